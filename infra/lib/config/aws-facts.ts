/**
 * Facts about AWS services that the settings are checked against: limits and allowed values set
 * by AWS, not by this project. Each has its source next to it; change one only when AWS does.
 */

/** SageMaker InvokeEndpoint payload limit of a serverless endpoint: 4 MB. */
export const SERVERLESS_MAX_IMAGE_BYTES = 4_000_000;
/** SageMaker InvokeEndpoint payload limit of a real-time (instance) endpoint: 6 MiB. */
export const REALTIME_MAX_IMAGE_BYTES = 6_291_456;

/** Memory sizes a SageMaker serverless variant accepts (1 GB steps, 1–6 GB). */
export const SERVERLESS_MEMORY_MB = [1024, 2048, 3072, 4096, 5120, 6144] as const;
/** Largest `MaxConcurrency` of a serverless variant. */
export const SERVERLESS_MAX_CONCURRENCY = 200;

/** API Gateway's ceiling on a REST integration timeout (without a quota increase). */
export const MAX_API_TIMEOUT_SECONDS = 29;
/**
 * The smallest integration timeout the stage accepts: the Lambda gets one second less and each
 * InvokeEndpoint call two seconds less, and both must stay positive with room to answer.
 */
export const MIN_API_TIMEOUT_SECONDS = 4;

/** Retention periods CloudWatch Logs accepts, in days. */
export const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
  3288, 3653,
] as const;

/** Usage-plan quota periods of API Gateway, with their length in hours (a month counts 30 days). */
export const QUOTA_PERIOD_HOURS = { DAY: 24, WEEK: 168, MONTH: 720 } as const;
export type QuotaPeriod = keyof typeof QUOTA_PERIOD_HOURS;

/** Lambda application log levels. */
export const LAMBDA_LOG_LEVELS = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL'] as const;

/**
 * CodeDeploy's predefined Lambda deployment configurations, by the names `rollout.function` uses;
 * `none` creates no deployment group at all.
 */
export const FUNCTION_DEPLOYMENTS = [
  'none', 'allAtOnce',
  'canary10Percent5Minutes', 'canary10Percent10Minutes', 'canary10Percent15Minutes', 'canary10Percent30Minutes',
  'linear10PercentEvery1Minute', 'linear10PercentEvery2Minutes', 'linear10PercentEvery3Minutes', 'linear10PercentEvery10Minutes',
] as const;
export type FunctionDeployment = typeof FUNCTION_DEPLOYMENTS[number];

/**
 * Region → account of SageMaker's built-in `image-classification:1` algorithm registry.
 * Source: the SageMaker Python SDK's `image_uri_config/image-classification.json`.
 */
export const BUILTIN_IMAGE_CLASSIFICATION_ACCOUNTS: Readonly<Record<string, string>> = {
  'ap-east-1': '286214385809',
  'ap-northeast-1': '501404015308',
  'ap-northeast-2': '306986355934',
  'ap-south-1': '991648021394',
  'ap-southeast-1': '475088953585',
  'ap-southeast-2': '544295431143',
  'ca-central-1': '469771592824',
  'cn-north-1': '390948362332',
  'cn-northwest-1': '387376663083',
  'eu-central-1': '813361260812',
  'eu-north-1': '669576153137',
  'eu-west-1': '685385470294',
  'eu-west-2': '644912444149',
  'eu-west-3': '749696950732',
  'me-south-1': '249704162688',
  'sa-east-1': '855470959533',
  'us-east-1': '811284229777',
  'us-east-2': '825641698319',
  'us-gov-west-1': '226302683700',
  'us-west-1': '632365934929',
  'us-west-2': '433757028032',
};

/**
 * Lambda's limit on a function's environment variables: 4 KB, measured on the variables
 * serialized as one JSON object (keys, values, quotes and escapes included; Lambda's own error
 * says "String measured: {…}"). Source: Lambda quotas, "Environment variables: 4 KB".
 */
export const LAMBDA_ENVIRONMENT_MAX_BYTES = 4096;

/**
 * SageMaker hosting instance families with local NVMe instance storage. SageMaker refuses a
 * `KmsKeyId` on an endpoint config whose variants use them: their local volumes are encrypted by
 * a hardware module on the instance instead. Source: the SageMaker API reference,
 * CreateEndpointConfig `KmsKeyId` ("Certain Nitro-based instances include local storage … You
 * can't request a KmsKeyId when using an instance type with local storage"), which points to the
 * EC2 list of instance types with instance store volumes. EC2 marks most such families with a
 * `d` among the attribute letters after the generation (`m5d`, `c6gd`, `r5dn`, `g4dn`, `p4d`,
 * `p4de`, `m6id`); these families carry NVMe storage without that letter.
 */
export const LOCAL_STORAGE_FAMILIES_WITHOUT_D = [
  'g5', 'g6', 'g6e', 'gr6', 'p5', 'p5e', 'p5en', 'p6', 'trn1', 'trn1n', 'trn2', 'dl1',
] as const;

/**
 * Whether a SageMaker instance type (`ml.<family>.<size>`) has local NVMe instance storage, so
 * its endpoint config may not name a KMS key. Families: a letter prefix, a generation digit and
 * attribute letters (`ml.c5.large` → `c5`, EBS only; `ml.m5d.large` → `m5d`, local storage).
 */
export function hasLocalInstanceStorage(instanceType: string): boolean {
  const family = instanceType.split('.')[1] ?? '';
  const m = /^([a-z]+)(\d+)([a-z-]*)$/.exec(family);
  if (!m) return false;
  return m[3].includes('d') || (LOCAL_STORAGE_FAMILIES_WITHOUT_D as readonly string[]).includes(family);
}

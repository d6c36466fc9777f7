/**
 * Stage configuration: the typed shape of the `sagefront:stages` context in `cdk.json`, its
 * validation with errors that name the offending key, and the per-source defaults.
 *
 * `bin/app.ts` reads the raw context once and calls {@link parseStages}; everything below it
 * (stacks and constructs) only sees the resolved, readonly {@link StageConfig}.
 */

/** Context key in `cdk.json` that holds one object per stage. */
export const STAGES_CONTEXT_KEY = 'sagefront:stages';

/** Raised for any invalid stage configuration; the message names the stage and the key. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** A label file committed under `labels/` and shipped inside the Lambda package. */
export interface LabelSet {
  /** Name used in `cdk.json` (`model.labels`). */
  readonly name: string;
  /** File name under the repository's `labels/` directory. */
  readonly file: string;
  /** Number of classes (lines) in the file. */
  readonly classes: number;
}

/** The label files the repository ships. */
export const LABEL_SETS: Readonly<Record<string, LabelSet>> = {
  'imagenet-1k': { name: 'imagenet-1k', file: 'imagenet-1k.txt', classes: 1000 },
  'caltech-256': { name: 'caltech-256', file: 'caltech-256.txt', classes: 257 },
};

/** A SageMaker serverless production variant. */
export interface ServerlessVariantConfig {
  readonly type: 'serverless';
  /** Memory of each serverless worker, 1024–6144 MB in 1024 MB steps. */
  readonly memoryMb: number;
  /** Maximum concurrent invocations, 1–200 (a cost guard). */
  readonly maxConcurrency: number;
  /** Workers kept warm (no cold start, billed while idle). @default none */
  readonly provisionedConcurrency?: number;
}

/** Target-tracking autoscaling of an instance variant on `SageMakerVariantInvocationsPerInstance`. */
export interface AutoscalingConfig {
  readonly minCapacity: number;
  readonly maxCapacity: number;
  /** Invocations per instance per minute the policy keeps the variant at. */
  readonly targetInvocationsPerInstance: number;
}

/** A SageMaker real-time (instance-backed) production variant. */
export interface InstanceVariantConfig {
  readonly type: 'instance';
  /** e.g. `ml.c5.large`. */
  readonly instanceType: string;
  readonly initialInstanceCount: number;
  /** @default no autoscaling */
  readonly autoscaling?: AutoscalingConfig;
}

export type VariantConfig = ServerlessVariantConfig | InstanceVariantConfig;

/** The model-server image built from `model-server/Dockerfile`, on an endpoint this stack owns. */
export interface BundledModelConfig {
  readonly source: 'bundled';
  readonly variant: VariantConfig;
}

/** SageMaker's built-in image-classification algorithm with model data from a training job. */
export interface BuiltinModelConfig {
  readonly source: 'builtin';
  readonly variant: VariantConfig;
  /** `s3://bucket/key` of the training job's `model.tar.gz`. */
  readonly modelDataUrl: string;
}

/** An endpoint managed elsewhere; the stack only fronts it. */
export interface ExistingModelConfig {
  readonly source: 'existing';
  /** Endpoint name as created (any case; SageMaker ARNs use it lowercased). */
  readonly endpointName: string;
  /** Whether the endpoint is serverless (sets the 4 MB payload limit). */
  readonly serverless: boolean;
}

export type ModelConfig = BundledModelConfig | BuiltinModelConfig | ExistingModelConfig;

/** What the function needs to know about the model behind the endpoint. */
export interface ModelContract {
  /** Label file shipped in the package. @default none (predictions carry no labels) */
  readonly labels?: LabelSet;
  /** `Content-Type` sent to the endpoint. */
  readonly contentType: string;
  /** Whether the model answers probabilities or logits. */
  readonly output: 'probabilities' | 'logits';
}

export type PreprocessMode = 'off' | 'oversize' | 'always';

/** Lambda settings of a stage (model-dependent defaults already applied). */
export interface FunctionConfig {
  readonly memoryMb: number;
  readonly logRetentionDays: number;
  /** @default none (the function shares the account's unreserved concurrency) */
  readonly reservedConcurrency?: number;
  /** Top-k when a request names none. @default all classes */
  readonly defaultTopK?: number;
  readonly maxImageBytes: number;
  readonly preprocess: PreprocessMode;
  readonly preprocessMaxSide: number;
  readonly logLevel: 'TRACE' | 'DEBUG' | 'INFO' | 'WARN' | 'ERROR' | 'FATAL';
}

export type QuotaPeriod = 'DAY' | 'WEEK' | 'MONTH';

/** REST API settings of a stage. */
export interface ApiConfig {
  readonly throttleRateLimit: number;
  readonly throttleBurstLimit: number;
  readonly apiKeyRequired: boolean;
  readonly quota: { readonly limit: number; readonly period: QuotaPeriod };
  readonly logRetentionDays: number;
  /** `*` or one origin such as `https://app.example.com`. @default CORS off */
  readonly corsAllowOrigin?: string;
  /** A regional WAFv2 web ACL to associate with the stage. @default none */
  readonly webAclArn?: string;
}

/**
 * The three timeouts, ordered so the function's own JSON 504 always reaches the client first:
 * `invoke < function < integration ≤ 29 s`.
 */
export interface Timeouts {
  /** API Gateway integration timeout. */
  readonly integrationMs: number;
  /** Lambda timeout. */
  readonly functionSeconds: number;
  /** The function's deadline for one InvokeEndpoint call (`INVOKE_TIMEOUT_MS`). */
  readonly invokeMs: number;
}

/**
 * Alarm thresholds of a stage (`alarms` in cdk.json). Count thresholds are per one-minute
 * period; "D of E" alarms fire when `datapointsToAlarm` of the last `evaluationPeriods` minutes
 * breach. Latencies are in milliseconds (SageMaker reports microseconds; the construct converts).
 */
export interface AlarmsConfig {
  /** E-mail subscribed to a new, KMS-encrypted alarm topic. @default none */
  readonly email?: string;
  /** An existing SNS topic the alarms notify (instead of, or as well as, `email`). @default none */
  readonly topicArn?: string;
  /** @default 5 */
  readonly evaluationPeriods: number;
  /** @default 3 */
  readonly datapointsToAlarm: number;
  /** API Gateway 5XXError rate, percent of requests (Average × 100). @default 5 */
  readonly api5xxPercent: number;
  /** API Gateway Latency p99, ms. @default 10000 */
  readonly apiLatencyP99Ms: number;
  /** Lambda Errors (handler failures: bugs, crashes) on the alias per minute, 1 of 1. @default 1 */
  readonly functionErrors: number;
  /** Lambda Throttles on the alias per minute. @default 1 */
  readonly functionThrottles: number;
  /** Lambda Duration p99 as a percent of the Lambda timeout. @default 80 */
  readonly functionDurationPercent: number;
  /** Requests answered with one server-side error code (model_error, …) per minute. @default 5 */
  readonly errorCodeCount: number;
  /** SageMaker Invocation5XXErrors per minute. @default 5 */
  readonly model5xx: number;
  /** SageMaker ModelLatency p99, ms. @default 5000 */
  readonly modelLatencyP99Ms: number;
  /** SageMaker ModelSetupTime (serverless cold start) Maximum, ms; serverless only. @default 30000 */
  readonly modelSetupTimeMs: number;
  /**
   * SageMaker Invocations per hour above which the cost alarm fires.
   * @default 3 × the usage plan's average hourly quota (quota.limit ÷ hours in quota.period)
   */
  readonly invocationsPerHour: number;
}

/** CodeDeploy configurations for shifting the function alias; `none` creates no deployment group. */
export const FUNCTION_DEPLOYMENTS = [
  'none', 'allAtOnce',
  'canary10Percent5Minutes', 'canary10Percent10Minutes', 'canary10Percent15Minutes', 'canary10Percent30Minutes',
  'linear10PercentEvery1Minute', 'linear10PercentEvery2Minutes', 'linear10PercentEvery3Minutes', 'linear10PercentEvery10Minutes',
] as const;
export type FunctionDeployment = typeof FUNCTION_DEPLOYMENTS[number];

/**
 * SageMaker deployment guardrails for an instance variant: blue/green with the given traffic
 * shifting, a baking period, and auto-rollback on the model alarms.
 */
export interface EndpointRolloutConfig {
  /**
   * Whether the instance endpoint gets guardrails at all (off: SageMaker's default blue/green,
   * all at once, no baking, no alarm rollback). @default true
   */
  readonly enabled: boolean;
  /** @default 'allAtOnce' (canary/linear need more than one instance: a canary may be at most half the fleet) */
  readonly trafficRouting: 'allAtOnce' | 'canary' | 'linear';
  /** Canary size or linear step, percent of the fleet's capacity (canary ≤ 50). @default 50 */
  readonly stepPercent: number;
  /** Wait between traffic shifts, seconds. @default 300 */
  readonly waitSeconds: number;
  /** Baking period after the last shift before the old fleet is terminated, seconds. @default 600 */
  readonly bakeSeconds: number;
  /** Give up (and roll back) after this long, seconds (600–14400). @default 3600 */
  readonly maxExecutionSeconds: number;
}

/** How changes reach traffic (`rollout` in cdk.json). */
export interface RolloutConfig {
  /** @default 'canary10Percent5Minutes' */
  readonly function: FunctionDeployment;
  /** Applies to instance variants only. */
  readonly endpoint: EndpointRolloutConfig;
}

/** A fully resolved stage. */
export interface StageConfig {
  /** Key in `sagefront:stages`, e.g. `dev`; also the API Gateway stage name. */
  readonly stageName: string;
  /** `sagefront-<stage>`. */
  readonly stackName: string;
  /** @default environment-agnostic (the CLI's account and region) */
  readonly env?: { readonly account?: string; readonly region?: string };
  readonly model: ModelConfig;
  readonly modelContract: ModelContract;
  readonly function: FunctionConfig;
  readonly api: ApiConfig;
  readonly timeouts: Timeouts;
  readonly alarms: AlarmsConfig;
  readonly rollout: RolloutConfig;
  /** A CloudWatch dashboard for the stage. @default true */
  readonly dashboard: boolean;
}

/** Payload limits of SageMaker InvokeEndpoint: 4 MB serverless, 6 MB real-time. */
export const SERVERLESS_MAX_IMAGE_BYTES = 4_000_000;
export const REALTIME_MAX_IMAGE_BYTES = 6_291_456;

/** API Gateway's hard ceiling on a REST integration timeout (without a quota increase). */
export const MAX_API_TIMEOUT_SECONDS = 29;
const MIN_API_TIMEOUT_SECONDS = 4;

const RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
  3288, 3653,
];
const SERVERLESS_MEMORY_MB = [1024, 2048, 3072, 4096, 5120, 6144];

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
 * Derives the three ordered timeouts from the one setting `api.timeoutSeconds`: the Lambda gets
 * one second less than the integration, and InvokeEndpoint one second less than the Lambda, so
 * each layer fails with room for the one above it to report the failure.
 */
export function deriveTimeouts(apiTimeoutSeconds: number): Timeouts {
  return {
    integrationMs: apiTimeoutSeconds * 1000,
    functionSeconds: apiTimeoutSeconds - 1,
    invokeMs: (apiTimeoutSeconds - 2) * 1000,
  };
}

/**
 * Validates the whole `sagefront:stages` context.
 *
 * @throws ConfigError when the context is missing, empty or any stage is invalid.
 */
export function parseStages(raw: unknown): StageConfig[] {
  if (raw === undefined || raw === null) {
    throw new ConfigError(`cdk.json has no "${STAGES_CONTEXT_KEY}" context: define at least one stage`);
  }
  if (!isRecord(raw) || Object.keys(raw).length === 0) {
    throw new ConfigError(`"${STAGES_CONTEXT_KEY}" must be an object with one entry per stage`);
  }
  return Object.entries(raw).map(([name, value]) => parseStage(name, value));
}

/**
 * Picks the stages to synthesize.
 *
 * @throws ConfigError naming the known stages when `wanted` is not one of them.
 */
export function selectStages(stages: StageConfig[], wanted: string | undefined): StageConfig[] {
  if (wanted === undefined || wanted === '') return stages;
  const found = stages.filter((s) => s.stageName === wanted);
  if (found.length === 0) {
    const known = stages.map((s) => s.stageName).join(', ');
    throw new ConfigError(`unknown stage "${wanted}" (cdk.json defines: ${known})`);
  }
  return found;
}

/**
 * Validates one stage and applies the defaults that depend on the model source.
 *
 * @throws ConfigError naming the stage and the key.
 */
export function parseStage(stageName: string, raw: unknown): StageConfig {
  if (!/^[a-z][a-z0-9-]{0,30}$/.test(stageName)) {
    throw new ConfigError(
      `stage name "${stageName}" must start with a lowercase letter and contain only a-z, 0-9 and "-"`,
    );
  }
  const root = Reader.root(stageName, raw);
  root.only(['env', 'model', 'function', 'api', 'alarms', 'rollout', 'dashboard']);

  const env = root.optObj('env');
  let envConfig: StageConfig['env'];
  if (env) {
    env.only(['account', 'region']);
    envConfig = {
      account: env.optStr('account', /^\d{12}$/, 'a 12-digit AWS account id'),
      region: env.optStr('region', /^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d$/, 'an AWS region such as eu-west-1'),
    };
  }

  const model = parseModel(root.obj('model'), envConfig?.region);
  const modelContract = parseModelContract(root.obj('model'), model);
  const fnConfig = parseFunction(root.optObj('function') ?? Reader.empty(stageName, 'function'), model);
  const apiReader = root.optObj('api') ?? Reader.empty(stageName, 'api');
  const api = parseApi(apiReader);
  const timeoutSeconds = apiReader.optInt('timeoutSeconds', MIN_API_TIMEOUT_SECONDS, MAX_API_TIMEOUT_SECONDS)
    ?? MAX_API_TIMEOUT_SECONDS;

  if (fnConfig.defaultTopK !== undefined && modelContract.labels
      && fnConfig.defaultTopK > modelContract.labels.classes) {
    root.fail(`function.defaultTopK (${fnConfig.defaultTopK}) exceeds the ${modelContract.labels.classes} classes of ${modelContract.labels.name}`);
  }

  return {
    stageName,
    stackName: `sagefront-${stageName}`,
    env: envConfig,
    model,
    modelContract,
    function: fnConfig,
    api,
    timeouts: deriveTimeouts(timeoutSeconds),
    alarms: parseAlarms(root.optObj('alarms') ?? Reader.empty(stageName, 'alarms'), api),
    rollout: parseRollout(root.optObj('rollout') ?? Reader.empty(stageName, 'rollout'), model),
    dashboard: root.optBool('dashboard') ?? true,
  };
}

function parseModel(r: Reader, region: string | undefined): ModelConfig {
  const source = r.oneOf('source', ['bundled', 'builtin', 'existing'] as const, 'bundled');
  const contractKeys = ['source', 'labels', 'contentType', 'output'];
  switch (source) {
    case 'bundled':
      r.only([...contractKeys, 'variant']);
      return { source, variant: parseVariant(r.obj('variant')) };
    case 'builtin': {
      r.only([...contractKeys, 'variant', 'modelDataUrl']);
      if (region !== undefined && !(region in BUILTIN_IMAGE_CLASSIFICATION_ACCOUNTS)) {
        r.fail(`source "builtin" is not available in ${region} (known regions: ${Object.keys(BUILTIN_IMAGE_CLASSIFICATION_ACCOUNTS).join(', ')})`);
      }
      const modelDataUrl = r.optStr('modelDataUrl', /^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\/\S+$/,
        'an s3://bucket/key URL of the training output (model.tar.gz)');
      if (modelDataUrl === undefined) {
        r.fail('source "builtin" needs "modelDataUrl" (s3://bucket/key of the training job\'s model.tar.gz)');
      }
      return { source, variant: parseVariant(r.obj('variant')), modelDataUrl };
    }
    case 'existing': {
      r.only([...contractKeys, 'endpointName', 'serverless']);
      const endpointName = r.optStr('endpointName', /^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$/,
        'a SageMaker endpoint name (letters, digits and "-", at most 63 characters)');
      if (endpointName === undefined) r.fail('source "existing" needs "endpointName"');
      return { source, endpointName, serverless: r.optBool('serverless') ?? false };
    }
  }
}

function parseVariant(r: Reader): VariantConfig {
  const type = r.oneOf('type', ['serverless', 'instance'] as const);
  if (type === 'serverless') {
    r.only(['type', 'memoryMb', 'maxConcurrency', 'provisionedConcurrency']);
    const memoryMb = r.int('memoryMb', 1, 1_000_000);
    if (!SERVERLESS_MEMORY_MB.includes(memoryMb)) {
      r.fail(`memoryMb must be one of ${SERVERLESS_MEMORY_MB.join(', ')} (got ${memoryMb})`);
    }
    const maxConcurrency = r.int('maxConcurrency', 1, 200);
    const provisionedConcurrency = r.optInt('provisionedConcurrency', 1, 200);
    if (provisionedConcurrency !== undefined && provisionedConcurrency > maxConcurrency) {
      r.fail(`provisionedConcurrency (${provisionedConcurrency}) must not exceed maxConcurrency (${maxConcurrency})`);
    }
    return { type, memoryMb, maxConcurrency, provisionedConcurrency };
  }
  r.only(['type', 'instanceType', 'initialInstanceCount', 'autoscaling']);
  const instanceType = r.str('instanceType', /^ml\.[a-z0-9-]+\.[a-z0-9]+$/, 'a SageMaker instance type such as ml.c5.large');
  const initialInstanceCount = r.int('initialInstanceCount', 1, 100);
  const a = r.optObj('autoscaling');
  let autoscaling: AutoscalingConfig | undefined;
  if (a) {
    a.only(['minCapacity', 'maxCapacity', 'targetInvocationsPerInstance']);
    autoscaling = {
      minCapacity: a.int('minCapacity', 1, 100),
      maxCapacity: a.int('maxCapacity', 1, 100),
      targetInvocationsPerInstance: a.int('targetInvocationsPerInstance', 1, 1_000_000),
    };
    if (autoscaling.minCapacity > autoscaling.maxCapacity) {
      a.fail(`minCapacity (${autoscaling.minCapacity}) must not exceed maxCapacity (${autoscaling.maxCapacity})`);
    }
    if (initialInstanceCount < autoscaling.minCapacity || initialInstanceCount > autoscaling.maxCapacity) {
      r.fail(`initialInstanceCount (${initialInstanceCount}) must lie within autoscaling min/max (${autoscaling.minCapacity}–${autoscaling.maxCapacity})`);
    }
  }
  return { type, instanceType, initialInstanceCount, autoscaling };
}

function parseModelContract(r: Reader, model: ModelConfig): ModelContract {
  const defaultLabels = model.source === 'bundled' ? 'imagenet-1k' : model.source === 'builtin' ? 'caltech-256' : 'none';
  const labels = r.oneOf('labels', [...Object.keys(LABEL_SETS), 'none'], defaultLabels);
  return {
    labels: labels === 'none' ? undefined : LABEL_SETS[labels],
    contentType: r.optStr('contentType', /^[a-z]+\/[a-z0-9.+-]+$/, 'a MIME type') ?? 'application/x-image',
    output: r.oneOf('output', ['probabilities', 'logits'] as const, 'probabilities'),
  };
}

function parseFunction(r: Reader, model: ModelConfig): FunctionConfig {
  r.only(['memoryMb', 'logRetentionDays', 'reservedConcurrency', 'defaultTopK', 'maxImageBytes',
    'preprocess', 'preprocessMaxSide', 'logLevel']);
  const serverless = model.source === 'existing' ? model.serverless : model.variant.type === 'serverless';
  const payloadLimit = serverless ? SERVERLESS_MAX_IMAGE_BYTES : REALTIME_MAX_IMAGE_BYTES;
  const maxImageBytes = r.optInt('maxImageBytes', 1024, payloadLimit) ?? payloadLimit;
  return {
    memoryMb: r.optInt('memoryMb', 128, 10240) ?? 512,
    logRetentionDays: r.optRetention('logRetentionDays') ?? 30,
    reservedConcurrency: r.optInt('reservedConcurrency', 1, 10000),
    // The bundled model has 1000 classes: returning all of them by default helps nobody.
    defaultTopK: r.optInt('defaultTopK', 1, 100000) ?? (model.source === 'bundled' ? 5 : undefined),
    maxImageBytes,
    preprocess: r.oneOf('preprocess', ['off', 'oversize', 'always'] as const, 'oversize'),
    preprocessMaxSide: r.optInt('preprocessMaxSide', 32, 4096) ?? 512,
    logLevel: r.oneOf('logLevel', ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL'] as const, 'INFO'),
  };
}

function parseApi(r: Reader): ApiConfig {
  r.only(['timeoutSeconds', 'throttleRateLimit', 'throttleBurstLimit', 'apiKeyRequired', 'quota',
    'logRetentionDays', 'corsAllowOrigin', 'webAclArn']);
  const q = r.optObj('quota');
  let quota: ApiConfig['quota'] = { limit: 10000, period: 'DAY' };
  if (q) {
    q.only(['limit', 'period']);
    quota = { limit: q.int('limit', 1, 2_000_000_000), period: q.oneOf('period', ['DAY', 'WEEK', 'MONTH'] as const) };
  }
  return {
    throttleRateLimit: r.optInt('throttleRateLimit', 1, 10000) ?? 10,
    throttleBurstLimit: r.optInt('throttleBurstLimit', 1, 5000) ?? 20,
    apiKeyRequired: r.optBool('apiKeyRequired') ?? true,
    quota,
    logRetentionDays: r.optRetention('logRetentionDays') ?? 30,
    corsAllowOrigin: r.optStr('corsAllowOrigin', /^(\*|https?:\/\/[a-zA-Z0-9.-]+(:\d+)?)$/,
      '"*" or one origin such as https://app.example.com'),
    webAclArn: r.optStr('webAclArn', /^arn:aws[a-z-]*:wafv2:[a-z0-9-]+:\d{12}:regional\/webacl\/.+$/,
      'the ARN of a regional WAFv2 web ACL'),
  };
}

const QUOTA_PERIOD_HOURS: Readonly<Record<QuotaPeriod, number>> = { DAY: 24, WEEK: 168, MONTH: 720 };

/** The cost alarm's default: three times the average hourly rate the usage-plan quota allows. */
export function defaultInvocationsPerHour(quota: ApiConfig['quota']): number {
  return Math.ceil((3 * quota.limit) / QUOTA_PERIOD_HOURS[quota.period]);
}

function parseAlarms(r: Reader, api: ApiConfig): AlarmsConfig {
  r.only(['email', 'topicArn', 'evaluationPeriods', 'datapointsToAlarm', 'api5xxPercent', 'apiLatencyP99Ms',
    'functionErrors', 'functionThrottles', 'functionDurationPercent', 'errorCodeCount', 'model5xx',
    'modelLatencyP99Ms', 'modelSetupTimeMs', 'invocationsPerHour']);
  const evaluationPeriods = r.optInt('evaluationPeriods', 1, 60) ?? 5;
  const datapointsToAlarm = r.optInt('datapointsToAlarm', 1, 60) ?? Math.min(3, evaluationPeriods);
  if (datapointsToAlarm > evaluationPeriods) {
    r.fail(`datapointsToAlarm (${datapointsToAlarm}) must not exceed evaluationPeriods (${evaluationPeriods})`);
  }
  return {
    email: r.optStr('email', /^[^\s@]+@[^\s@]+\.[^\s@]+$/, 'an e-mail address'),
    topicArn: r.optStr('topicArn', /^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$/, 'the ARN of an SNS topic'),
    evaluationPeriods,
    datapointsToAlarm,
    api5xxPercent: r.optInt('api5xxPercent', 1, 100) ?? 5,
    apiLatencyP99Ms: r.optInt('apiLatencyP99Ms', 10, 29_000) ?? 10_000,
    functionErrors: r.optInt('functionErrors', 1, 1_000_000) ?? 1,
    functionThrottles: r.optInt('functionThrottles', 1, 1_000_000) ?? 1,
    functionDurationPercent: r.optInt('functionDurationPercent', 10, 100) ?? 80,
    errorCodeCount: r.optInt('errorCodeCount', 1, 1_000_000) ?? 5,
    model5xx: r.optInt('model5xx', 1, 1_000_000) ?? 5,
    modelLatencyP99Ms: r.optInt('modelLatencyP99Ms', 1, 3_600_000) ?? 5_000,
    modelSetupTimeMs: r.optInt('modelSetupTimeMs', 1, 3_600_000) ?? 30_000,
    invocationsPerHour: r.optInt('invocationsPerHour', 1, 2_000_000_000) ?? defaultInvocationsPerHour(api.quota),
  };
}

function parseRollout(r: Reader, model: ModelConfig): RolloutConfig {
  r.only(['function', 'endpoint']);
  const fn = r.oneOf('function', FUNCTION_DEPLOYMENTS, 'canary10Percent5Minutes');
  const e = r.optObj('endpoint') ?? Reader.empty(r.stageName, 'rollout.endpoint');
  e.only(['enabled', 'trafficRouting', 'stepPercent', 'waitSeconds', 'bakeSeconds', 'maxExecutionSeconds']);
  const endpoint: EndpointRolloutConfig = {
    enabled: e.optBool('enabled') ?? true,
    trafficRouting: e.oneOf('trafficRouting', ['allAtOnce', 'canary', 'linear'] as const, 'allAtOnce'),
    stepPercent: e.optInt('stepPercent', 1, 100) ?? 50,
    waitSeconds: e.optInt('waitSeconds', 0, 3600) ?? 300,
    bakeSeconds: e.optInt('bakeSeconds', 0, 3600) ?? 600,
    maxExecutionSeconds: e.optInt('maxExecutionSeconds', 600, 14_400) ?? 3600,
  };
  if (endpoint.trafficRouting === 'canary' && endpoint.stepPercent > 50) {
    e.fail(`a canary may be at most 50% of the fleet (stepPercent is ${endpoint.stepPercent})`);
  }
  if (endpoint.trafficRouting !== 'allAtOnce' && model.source !== 'existing' && model.variant.type === 'instance') {
    const a = model.variant.autoscaling;
    const minInstances = a ? a.minCapacity : model.variant.initialInstanceCount;
    if (minInstances < 2) {
      e.fail(`trafficRouting "${endpoint.trafficRouting}" needs a fleet of at least 2 instances `
        + `(the variant may run ${minInstances}); use "allAtOnce", which still bakes and rolls back`);
    }
  }
  const shifts = endpoint.trafficRouting === 'linear' ? Math.ceil(100 / endpoint.stepPercent) : 1;
  const waiting = shifts * endpoint.waitSeconds + endpoint.bakeSeconds;
  if (waiting >= endpoint.maxExecutionSeconds) {
    e.fail(`maxExecutionSeconds (${endpoint.maxExecutionSeconds}) must exceed the deployment's total waiting time `
      + `(${shifts} × waitSeconds + bakeSeconds = ${waiting} s)`);
  }
  return { function: fn, endpoint };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Reads one JSON object of the configuration, failing with the stage and key path. */
class Reader {
  static root(stage: string, raw: unknown): Reader {
    if (!isRecord(raw)) {
      throw new ConfigError(`invalid configuration for stage "${stage}": expected an object`);
    }
    return new Reader(stage, '', raw);
  }

  static empty(stage: string, path: string): Reader {
    return new Reader(stage, path, {});
  }

  get stageName(): string {
    return this.stage;
  }

  private constructor(
    private readonly stage: string,
    private readonly path: string,
    private readonly value: Record<string, unknown>,
  ) {}

  fail(message: string): never {
    const where = this.path ? ` (${this.path})` : '';
    throw new ConfigError(`invalid configuration for stage "${this.stage}"${where}: ${message}`);
  }

  private key(k: string): string {
    return this.path ? `${this.path}.${k}` : k;
  }

  /** Rejects keys not in `allowed`, so that a typo never silently falls back to a default. */
  only(allowed: string[]): void {
    for (const k of Object.keys(this.value)) {
      if (!allowed.includes(k)) {
        this.fail(`unknown key "${this.key(k)}" (expected one of: ${allowed.join(', ')})`);
      }
    }
  }

  obj(k: string): Reader {
    const r = this.optObj(k);
    if (!r) this.fail(`"${this.key(k)}" is required`);
    return r;
  }

  optObj(k: string): Reader | undefined {
    const v = this.value[k];
    if (v === undefined) return undefined;
    if (!isRecord(v)) this.fail(`"${this.key(k)}" must be an object`);
    return new Reader(this.stage, this.key(k), v);
  }

  str(k: string, pattern: RegExp, what: string): string {
    const v = this.optStr(k, pattern, what);
    if (v === undefined) this.fail(`"${this.key(k)}" is required (${what})`);
    return v;
  }

  optStr(k: string, pattern: RegExp, what: string): string | undefined {
    const v = this.value[k];
    if (v === undefined) return undefined;
    if (typeof v !== 'string' || !pattern.test(v)) {
      this.fail(`"${this.key(k)}" must be ${what} (got ${JSON.stringify(v)})`);
    }
    return v;
  }

  int(k: string, min: number, max: number): number {
    const v = this.optInt(k, min, max);
    if (v === undefined) this.fail(`"${this.key(k)}" is required (an integer from ${min} to ${max})`);
    return v;
  }

  optInt(k: string, min: number, max: number): number | undefined {
    const v = this.value[k];
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      this.fail(`"${this.key(k)}" must be an integer from ${min} to ${max} (got ${JSON.stringify(v)})`);
    }
    return v;
  }

  optBool(k: string): boolean | undefined {
    const v = this.value[k];
    if (v === undefined) return undefined;
    if (typeof v !== 'boolean') this.fail(`"${this.key(k)}" must be true or false (got ${JSON.stringify(v)})`);
    return v;
  }

  optRetention(k: string): number | undefined {
    const v = this.value[k];
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !RETENTION_DAYS.includes(v)) {
      this.fail(`"${this.key(k)}" must be a CloudWatch Logs retention in days, one of ${RETENTION_DAYS.join(', ')} (got ${JSON.stringify(v)})`);
    }
    return v;
  }

  oneOf<T extends string>(k: string, options: readonly T[], fallback?: T): T {
    const v = this.value[k];
    if (v === undefined) {
      if (fallback === undefined) this.fail(`"${this.key(k)}" is required (one of: ${options.join(', ')})`);
      return fallback;
    }
    if (typeof v !== 'string' || !(options as readonly string[]).includes(v)) {
      this.fail(`"${this.key(k)}" must be one of: ${options.join(', ')} (got ${JSON.stringify(v)})`);
    }
    return v as T;
  }
}

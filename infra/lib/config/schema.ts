/**
 * The `sagefront:stages` settings of `cdk.json`, each declared once: its type, range, default
 * and documentation (`.meta()`) live here, and everything else is derived from this schema — the
 * TypeScript types (`z.output`), the validation with errors that name the stage and the key
 * path, and the settings reference table (`settings.ts`).
 *
 * Defaults: a stack-level default is the schema's `.default()`. A setting that becomes one of
 * the function's environment variables (`env` in its meta) has no default here: the function
 * owns it (`functionDefault` documents it, and a test checks it against the function's code),
 * and the stack passes the variable only when the stage sets the setting. Defaults that depend on
 * other settings (labels and top-k by model source, the payload limit, alarm rates from the
 * quota) are applied by `stage.ts` and documented with `defaultText`.
 */
import { z } from 'zod';
import {
  BUILTIN_IMAGE_CLASSIFICATION_ACCOUNTS, FUNCTION_DEPLOYMENTS, hasLocalInstanceStorage, LAMBDA_LOG_LEVELS, LOG_RETENTION_DAYS,
  MAX_API_TIMEOUT_SECONDS, MIN_API_TIMEOUT_SECONDS, REALTIME_MAX_IMAGE_BYTES,
  SERVERLESS_MAX_CONCURRENCY, SERVERLESS_MAX_IMAGE_BYTES, SERVERLESS_MEMORY_MB,
} from './aws-facts';

/** Documentation of one setting, read by the settings table generator. */
export interface SettingMeta {
  /** What the setting does (Markdown). */
  readonly description: string;
  /** The function's environment variable the setting sets. */
  readonly env?: string;
  /** The function's own default, when the stack leaves the variable unset. */
  readonly functionDefault?: string;
  /** The default in words, when it is derived from other settings. */
  readonly defaultText?: string;
}

/** The label files the repository ships under `labels/`. */
export const LABEL_SET_NAMES = ['imagenet-1k', 'caltech-256'] as const;

// --- Building blocks: each states its rule once, in the words of the error message. ---

/** An integer in [min, max]. */
function int(min: number, max: number) {
  const rule = `an integer from ${min} to ${max}`;
  const error = (iss: { input?: unknown }) => (iss.input === undefined ? `is required (${rule})` : `must be ${rule}`);
  return z.number({ error }).int({ error }).min(min, { error }).max(max, { error });
}

/** A string matching `pattern`, described as `what`. */
function text(pattern: RegExp, what: string) {
  const error = (iss: { input?: unknown }) => (iss.input === undefined ? `is required (${what})` : `must be ${what}`);
  return z.string({ error }).regex(pattern, { error });
}

/** One of a fixed list of strings. */
function oneOf<const T extends readonly [string, ...string[]]>(options: T) {
  const error = (iss: { input?: unknown }) => (iss.input === undefined
    ? `is required (one of: ${options.join(', ')})` : `must be one of: ${options.join(', ')}`);
  return z.enum(options, { error });
}

function bool() {
  return z.boolean({ error: 'must be true or false' });
}

/** A list of distinct values, at least one. */
function distinctList<T extends z.ZodType<string>>(item: T, what: string) {
  return z.array(item, { error: `must be a list of ${what}` })
    .min(1, { error: `must name at least one of ${what}` })
    .check((ctx) => {
      const seen = new Set<string>();
      ctx.value.forEach((v, i) => {
        if (seen.has(v)) ctx.issues.push({ code: 'custom', input: ctx.value, path: [i], message: `names "${v}" twice` });
        seen.add(v);
      });
    });
}

/** A CloudWatch Logs retention period. */
function retention() {
  return z.literal(LOG_RETENTION_DAYS, {
    error: `must be a CloudWatch Logs retention in days, one of ${LOG_RETENTION_DAYS.join(', ')}`,
  });
}

/** A JSON object that accepts exactly these keys: a misspelt key must never fall back to a default. */
function section<T extends z.ZodRawShape>(shape: T) {
  return z.strictObject(shape, {
    error: (iss) => (iss.code === 'unrecognized_keys'
      ? `expected one of: ${Object.keys(shape).join(', ')}`
      : iss.input === undefined ? 'is required' : 'must be an object'),
  });
}

/** Typed meta: every setting documents itself in the same fields. */
const meta = (m: SettingMeta): z.core.GlobalMeta => ({ ...m });

// --- The model behind the endpoint. ---

const serverlessVariant = section({
  type: z.literal('serverless').meta(meta({ description: '`serverless` or `instance` (`bundled`, `builtin`)' })),
  memoryMb: z.literal(SERVERLESS_MEMORY_MB, { error: `must be one of ${SERVERLESS_MEMORY_MB.join(', ')}` })
    .meta(meta({ description: 'serverless: memory of each worker, 1024, 2048, … 6144 MB' })),
  maxConcurrency: int(1, SERVERLESS_MAX_CONCURRENCY)
    .meta(meta({ description: `serverless: concurrent invocations cap, 1–${SERVERLESS_MAX_CONCURRENCY} (a cost guard)` })),
  provisionedConcurrency: int(1, SERVERLESS_MAX_CONCURRENCY).optional()
    .meta(meta({ description: 'serverless: workers kept warm (no cold starts, billed while idle)', defaultText: 'none' })),
}).check((ctx) => {
  const v = ctx.value;
  if (v.provisionedConcurrency !== undefined && v.provisionedConcurrency > v.maxConcurrency) {
    ctx.issues.push({
      code: 'custom', input: v, path: ['provisionedConcurrency'],
      message: `provisionedConcurrency (${v.provisionedConcurrency}) must not exceed maxConcurrency (${v.maxConcurrency})`,
    });
  }
});

const autoscaling = section({
  minCapacity: int(1, 100).meta(meta({ description: 'instance: autoscaling lower bound' })),
  maxCapacity: int(1, 100).meta(meta({ description: 'instance: autoscaling upper bound' })),
  targetInvocationsPerInstance: int(1, 1_000_000)
    .meta(meta({ description: 'instance: target of `SageMakerVariantInvocationsPerInstance` (per minute)' })),
}).check((ctx) => {
  const a = ctx.value;
  if (a.minCapacity > a.maxCapacity) {
    ctx.issues.push({
      code: 'custom', input: a, path: ['minCapacity'],
      message: `minCapacity (${a.minCapacity}) must not exceed maxCapacity (${a.maxCapacity})`,
    });
  }
});

const instanceVariant = section({
  type: z.literal('instance').meta(meta({ description: '`serverless` or `instance` (`bundled`, `builtin`)' })),
  instanceType: text(/^ml\.[a-z0-9-]+\.[a-z0-9]+$/, 'a SageMaker instance type such as ml.c5.large')
    .meta(meta({ description: 'instance: e.g. `ml.c5.large`' })),
  initialInstanceCount: int(1, 100).meta(meta({ description: 'instance: instances at deploy' })),
  autoscaling: autoscaling.optional().meta(meta({ description: 'instance: target-tracking autoscaling', defaultText: 'none' })),
}).check((ctx) => {
  const v = ctx.value;
  const a = v.autoscaling;
  if (a && a.minCapacity <= a.maxCapacity
      && (v.initialInstanceCount < a.minCapacity || v.initialInstanceCount > a.maxCapacity)) {
    ctx.issues.push({
      code: 'custom', input: v, path: ['initialInstanceCount'],
      message: `initialInstanceCount (${v.initialInstanceCount}) must lie within autoscaling min/max (${a.minCapacity}–${a.maxCapacity})`,
    });
  }
});

// An unknown or missing discriminator is worded by the error formatter (stage.ts), from the options.
const variant = z.discriminatedUnion('type', [serverlessVariant, instanceVariant], {
  error: (iss) => (iss.input === undefined ? 'is required' : 'must be an object'),
});

// --- Where each call goes on the endpoint, as the function checks it (function/src/config.rs). ---

/** The routes a stage can serve besides `GET /health`, which is always served (`ROUTES`). */
export const ROUTE_NAMES = ['predictions', 'resize', 'invocations'] as const;
export type RouteName = typeof ROUTE_NAMES[number];

/** SageMaker's name rule for inference components, variants and container hostnames (1–63). */
export const SAGEMAKER_NAME = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
const SAGEMAKER_NAME_TEXT = '1–63 letters, digits and "-", not first or last';
/** `TargetModel`: 1–1024 printable ASCII characters (a relative S3 key), no space first or last. */
export const TARGET_MODEL_NAME = /^[!-~](?:[ -~]{0,1022}[!-~])?$/;
/** A public model name: a path segment of `POST /models/{name}/invocations`. */
export const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const MODEL_NAME_TEXT = '1–63 letters, digits, ".", "_" or "-", starting with a letter or digit';
/** A media type as SageMaker takes it in a header: printable ASCII with a "/", at most 1024. */
const MEDIA_TYPE = /^(?=[^/]*\/)[!-~](?:[ -~]{0,1022}[!-~])?$/;

/** The `InvokeEndpoint` target fields, each as the function validates it. */
const targetShape = {
  inferenceComponent: text(SAGEMAKER_NAME, `an inference component name (${SAGEMAKER_NAME_TEXT})`).optional(),
  targetModel: text(TARGET_MODEL_NAME, 'a TargetModel (1–1024 printable ASCII characters, no space first or last)').optional(),
  targetVariant: text(SAGEMAKER_NAME, `a production variant name (${SAGEMAKER_NAME_TEXT})`).optional(),
  targetContainerHostname: text(SAGEMAKER_NAME, `a container hostname (${SAGEMAKER_NAME_TEXT})`).optional(),
};

/** A target names at least one field: an empty one is a mistake, not a choice. */
function atLeastOneTarget(ctx: z.core.ParsePayload<Record<string, unknown>>): void {
  if (Object.values(ctx.value).every((v) => v === undefined)) {
    ctx.issues.push({
      code: 'custom', input: ctx.value, path: [],
      message: `names no target (one or more of: ${Object.keys(targetShape).join(', ')})`,
    });
  }
}

/** One entry of the per-request allow-list: at least one target field. */
export const invocationTargetSchema = section(targetShape).check(atLeastOneTarget);

/** The per-request allow-list: public name → target (`MODELS`). */
export const modelsSchema = z.record(
  z.string().regex(MODEL_NAME, { error: (iss) => `model name ${JSON.stringify(iss.input)} must be ${MODEL_NAME_TEXT}` }),
  invocationTargetSchema,
  { error: (iss) => (iss.code === 'invalid_type' ? 'must be an object of model name → target' : undefined) },
);

/** The routes a stage serves (`ROUTES`). */
export const routesSchema = distinctList(oneOf(ROUTE_NAMES), ROUTE_NAMES.join(', '));

/** What the function needs to know about the model, whatever the source. */
const modelContract = {
  labels: oneOf([...LABEL_SET_NAMES, 'none']).optional().meta(meta({
    description: 'label file shipped in the function package (`labels/<name>.txt`); `none` for predictions without labels',
    env: 'LABELS_PATH',
    defaultText: '`imagenet-1k` (`bundled`), `caltech-256` (`builtin`), `none` (`existing`)',
  })),
  contentType: text(/^[a-z]+\/[a-z0-9.+-]+$/, 'a MIME type').optional().meta(meta({
    description: '`Content-Type` sent to the endpoint',
    env: 'MODEL_CONTENT_TYPE',
    functionDefault: 'application/x-image',
  })),
  output: oneOf(['probabilities', 'logits']).optional().meta(meta({
    description: '`probabilities` or `logits` (the function applies a softmax)',
    env: 'MODEL_OUTPUT',
    functionDefault: 'probabilities',
  })),
  invocations: section({
    contentType: text(MEDIA_TYPE, 'a media type such as application/json').optional().meta(meta({
      description: '`/invocations`: `Content-Type` sent to the endpoint when the request carries none',
      env: 'INVOCATIONS_CONTENT_TYPE',
      functionDefault: 'application/json',
    })),
    accept: text(MEDIA_TYPE, 'a media type such as application/json').optional().meta(meta({
      description: '`/invocations`: `Accept` sent to the endpoint when the request carries none',
      env: 'INVOCATIONS_ACCEPT',
      functionDefault: 'none',
    })),
  }).optional().meta(meta({ description: 'defaults of `POST /invocations`' })),
  target: section({
    inferenceComponent: targetShape.inferenceComponent.meta(meta({
      description: 'default `InferenceComponentName` of every call (IAM then also allows this inference component)',
      env: 'TARGET_INFERENCE_COMPONENT',
      functionDefault: 'none',
    })),
    targetModel: targetShape.targetModel.meta(meta({
      description: 'default `TargetModel` of every call (multi-model endpoints)',
      env: 'TARGET_MODEL',
      functionDefault: 'none',
    })),
    targetVariant: targetShape.targetVariant.meta(meta({
      description: 'default `TargetVariant` of every call',
      env: 'TARGET_VARIANT',
      functionDefault: 'none',
    })),
    targetContainerHostname: targetShape.targetContainerHostname.meta(meta({
      description: 'default `TargetContainerHostname` of every call (multi-container endpoints)',
      env: 'TARGET_CONTAINER_HOSTNAME',
      functionDefault: 'none',
    })),
  }).check(atLeastOneTarget).optional().meta(meta({ description: 'where every call goes on the endpoint' })),
  models: modelsSchema.optional().meta(meta({
    description: 'the allow-list of `POST /models/{name}/invocations`: public name → `{inferenceComponent, targetModel, '
      + 'targetVariant, targetContainerHostname}` (any, at least one; unnamed fields fall back to `model.target`); other names '
      + 'get `404 unknown_model`. Names: ' + MODEL_NAME_TEXT,
    env: 'MODELS',
    functionDefault: 'none',
  })),
};

/** A KMS key for the endpoint's storage volume, on the sources that create an endpoint. */
const kmsKeyArn = text(
  /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/(?:mrk-[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/,
  'the ARN of a KMS key (arn:aws:kms:REGION:ACCOUNT:key/KEY-ID)',
)
  .optional().meta(meta({
    description: '`bundled`, `builtin`: the KMS key that encrypts the endpoint\'s storage volume (instance types without local '
      + 'NVMe storage; SageMaker takes no key for serverless variants and local-storage types, whose storage it encrypts itself)',
    defaultText: 'a key the stack creates (rotation on), where the variant takes one',
  }));

const SOURCE_DESCRIPTION = '`bundled`: the model-server image from `model-server/Dockerfile` on an endpoint the stack '
  + 'creates; `builtin`: SageMaker\'s built-in image-classification algorithm with `modelDataUrl`; `existing`: only '
  + 'front `endpointName`';

const bundledModel = section({
  source: z.literal('bundled').default('bundled').meta(meta({ description: SOURCE_DESCRIPTION })),
  variant: variant.meta(meta({ description: 'the production variant (`bundled`, `builtin`)' })),
  kmsKeyArn,
  ...modelContract,
});

const builtinModel = section({
  source: z.literal('builtin').meta(meta({ description: SOURCE_DESCRIPTION })),
  variant: variant.meta(meta({ description: 'the production variant (`bundled`, `builtin`)' })),
  modelDataUrl: z.string({
    error: (iss) => (iss.input === undefined
      ? 'source "builtin" needs "modelDataUrl" (s3://bucket/key of the training job\'s model.tar.gz)'
      : 'must be an s3://bucket/key URL of the training output (model.tar.gz)'),
  }).regex(/^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\/\S+$/, {
    error: 'must be an s3://bucket/key URL of the training output (model.tar.gz)',
  }).meta(meta({
    description: '`builtin`: `s3://bucket/key` of the training job\'s `model.tar.gz` (the endpoint role may read exactly this object)',
  })),
  kmsKeyArn,
  ...modelContract,
});

const existingModel = section({
  source: z.literal('existing').meta(meta({ description: SOURCE_DESCRIPTION })),
  endpointName: z.string({ error: (iss) => (iss.input === undefined ? 'source "existing" needs "endpointName"' : 'must be a string') })
    .regex(/^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$/, { error: 'must be a SageMaker endpoint name (letters, digits and "-", at most 63 characters)' })
    .meta(meta({ description: '`existing`: the endpoint\'s name (IAM is scoped to its ARN)', env: 'ENDPOINT_NAME' })),
  serverless: bool().default(false).meta(meta({
    description: '`existing`: whether the endpoint is serverless (its payload limit is 4 MB instead of 6 MiB)',
  })),
  ...modelContract,
});

const model = z.discriminatedUnion('source', [bundledModel, builtinModel, existingModel], {
  error: (iss) => (iss.input === undefined ? 'is required' : 'must be an object'),
});

// --- The function, the API, operations. ---

const functionSettings = section({
  memoryMb: int(128, 10240).default(512).meta(meta({ description: 'Lambda memory, MB (also buys CPU for image decoding)' })),
  logRetentionDays: retention().default(30).meta(meta({ description: 'Lambda log retention, days' })),
  reservedConcurrency: int(1, 10000).optional().meta(meta({
    description: 'cap on concurrent function instances (a cost guard; needs account headroom)', defaultText: 'none',
  })),
  defaultTopK: int(1, 100000).optional().meta(meta({
    description: '`k` when a request names none',
    env: 'DEFAULT_TOP_K',
    functionDefault: 'all',
    defaultText: '`5` for `bundled` (1000 ImageNet classes)',
  })),
  maxImageBytes: int(1024, REALTIME_MAX_IMAGE_BYTES).optional().meta(meta({
    description: 'largest image sent to the model (at most the endpoint\'s payload limit)',
    env: 'MAX_IMAGE_BYTES',
    defaultText: `the endpoint's payload limit: ${SERVERLESS_MAX_IMAGE_BYTES} serverless, ${REALTIME_MAX_IMAGE_BYTES} real-time`,
  })),
  preprocess: oneOf(['off', 'oversize', 'always']).optional().meta(meta({
    description: '`off`, `oversize` (downscale images above the limit instead of a 413) or `always`',
    env: 'PREPROCESS',
    functionDefault: 'oversize',
  })),
  preprocessMaxSide: int(32, 4096).optional().meta(meta({
    description: 'longest side, in pixels, after downscaling',
    env: 'PREPROCESS_MAX_SIDE',
    functionDefault: '512',
  })),
  logLevel: oneOf(LAMBDA_LOG_LEVELS).default('INFO').meta(meta({ description: 'application log level (JSON logs)' })),
});

const quota = section({
  limit: int(1, 2_000_000_000).meta(meta({ description: 'usage-plan requests per key per period' })),
  period: oneOf(['DAY', 'WEEK', 'MONTH']).meta(meta({ description: 'usage-plan quota period: `DAY`, `WEEK` or `MONTH`' })),
});

const apiSettings = section({
  timeoutSeconds: int(MIN_API_TIMEOUT_SECONDS, MAX_API_TIMEOUT_SECONDS).default(MAX_API_TIMEOUT_SECONDS).meta(meta({
    description: `integration timeout, ${MIN_API_TIMEOUT_SECONDS}–${MAX_API_TIMEOUT_SECONDS} s; the Lambda gets one second less and `
      + 'each InvokeEndpoint call (`INVOKE_TIMEOUT_MS`) two seconds less, so the function\'s own `504 endpoint_timeout` arrives first',
    env: 'INVOKE_TIMEOUT_MS',
  })),
  throttleRateLimit: int(1, 10000).default(10).meta(meta({ description: 'stage-wide steady requests per second' })),
  throttleBurstLimit: int(1, 5000).default(20).meta(meta({ description: 'stage-wide burst' })),
  healthRateLimit: int(1, 10000).optional().meta(meta({
    description: 'steady requests per second of keyless `GET`/`HEAD /health` (a method throttle of its own)',
    defaultText: '`5`, at most `api.throttleRateLimit`',
  })),
  healthBurstLimit: int(1, 5000).optional().meta(meta({
    description: 'burst of keyless `GET`/`HEAD /health`',
    defaultText: '`10`, at most `api.throttleBurstLimit`',
  })),
  apiKeyRequired: bool().default(true).meta(meta({
    description: 'require `x-api-key` (all routes but `/health`), with a key and a usage plan',
  })),
  routes: routesSchema.optional().meta(meta({
    description: `the routes served besides \`GET /health\`: a list of any of ${ROUTE_NAMES.map((r) => `\`${r}\``).join(', ')} `
      + '(the function gets them comma-separated); the others answer `404 not_found`. Serving `invocations` makes every '
      + 'media type binary for API Gateway (`*/*`)',
    env: 'ROUTES',
    functionDefault: ROUTE_NAMES.join(','),
  })),
  quota: quota.prefault({ limit: 10000, period: 'DAY' }).meta(meta({ description: 'usage-plan quota per key' })),
  logRetentionDays: retention().default(30).meta(meta({ description: 'access log retention, days' })),
  corsAllowOrigin: text(/^(\*|https?:\/\/[a-zA-Z0-9.-]+(:\d+)?)$/, '"*" or one origin such as https://app.example.com')
    .optional().meta(meta({
      description: '`*` or one origin allowed from browsers (API Gateway preflight and the function\'s `Access-Control-Allow-Origin`)',
      env: 'CORS_ALLOW_ORIGIN',
      functionDefault: 'none',
    })),
  webAclArn: text(/^arn:aws[a-z-]*:wafv2:[a-z0-9-]+:\d{12}:regional\/webacl\/.+$/, 'the ARN of a regional WAFv2 web ACL')
    .optional().meta(meta({ description: 'a regional WAFv2 web ACL to attach to the stage', defaultText: 'none' })),
});

/**
 * Alarm thresholds. Count thresholds are per one-minute period; "D of E" alarms fire when
 * `datapointsToAlarm` of the last `evaluationPeriods` minutes breach. Latencies are in
 * milliseconds (SageMaker reports microseconds; the Operations construct converts).
 */
export const alarmThresholdsSchema = section({
  evaluationPeriods: int(1, 60).default(5).meta(meta({ description: '"D of E": one-minute periods evaluated by the alarms that are not "1 of 1"' })),
  datapointsToAlarm: int(1, 60).optional().meta(meta({
    description: '"D of E": breaching periods that fire an alarm', defaultText: '3, at most `evaluationPeriods`',
  })),
  api5xxPercent: int(1, 100).default(5).meta(meta({ description: 'API `5XXError` rate, percent of requests' })),
  apiLatencyP99Ms: int(10, 29_000).default(10_000).meta(meta({ description: 'API `Latency` p99, ms' })),
  functionErrors: int(1, 1_000_000).default(1).meta(meta({ description: 'alias `Errors` (bugs, crashes) per minute, 1 of 1' })),
  functionThrottles: int(1, 1_000_000).default(1).meta(meta({ description: 'alias `Throttles` per minute' })),
  functionDurationPercent: int(10, 100).default(80).meta(meta({ description: 'alias `Duration` p99, percent of the Lambda timeout' })),
  errorCodeCount: int(1, 1_000_000).default(5).meta(meta({
    description: 'requests per minute answered with one server-side error code (each code alarms separately)',
  })),
  model5xx: int(1, 1_000_000).default(5).meta(meta({ description: 'SageMaker `Invocation5XXErrors` per minute' })),
  modelLatencyP99Ms: int(1, 3_600_000).default(5_000).meta(meta({ description: 'SageMaker `ModelLatency` p99, ms' })),
  modelSetupTimeMs: int(1, 3_600_000).default(30_000).meta(meta({
    description: 'SageMaker `ModelSetupTime` maximum, ms (serverless cold starts; serverless only)',
  })),
  invocationsPerHour: int(1, 2_000_000_000).optional().meta(meta({
    description: 'SageMaker `Invocations` per hour, 1 of 1: the cost alarm',
    defaultText: '3 × `api.quota.limit` ÷ hours in `api.quota.period`',
  })),
});

const alarmsSettings = section({
  email: text(/^[^\s@]+@[^\s@]+\.[^\s@]+$/, 'an e-mail address').optional().meta(meta({
    description: 'e-mail subscribed to a new alarm topic (SNS, SSL-only, encrypted with a KMS key of its own, ≈ $1/month); confirm the subscription mail',
    defaultText: 'none',
  })),
  topicArn: text(/^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$/, 'the ARN of an SNS topic').optional().meta(meta({
    description: 'an existing SNS topic every alarm notifies (ALARM and OK)', defaultText: 'none',
  })),
  ...alarmThresholdsSchema.shape,
}).check((ctx) => {
  const a = ctx.value;
  if (a.datapointsToAlarm !== undefined && a.datapointsToAlarm > a.evaluationPeriods) {
    ctx.issues.push({
      code: 'custom', input: a, path: ['datapointsToAlarm'],
      message: `datapointsToAlarm (${a.datapointsToAlarm}) must not exceed evaluationPeriods (${a.evaluationPeriods})`,
    });
  }
});

/** Traffic shifts of a rollout: one for canary and all-at-once, one per step for linear. */
export function trafficShifts(r: { trafficRouting: string; stepPercent: number }): number {
  return r.trafficRouting === 'linear' ? Math.ceil(100 / r.stepPercent) : 1;
}

const endpointRollout = section({
  enabled: bool().default(true).meta(meta({
    description: 'deployment guardrails on an instance endpoint (`false`: SageMaker\'s default blue/green, all at once, no baking, no alarm rollback)',
  })),
  trafficRouting: oneOf(['allAtOnce', 'canary', 'linear']).default('allAtOnce').meta(meta({
    description: 'instance variants: blue/green `allAtOnce`, `canary` or `linear` (the last two need a fleet of at least 2 instances)',
  })),
  stepPercent: int(1, 100).default(50).meta(meta({ description: 'canary size / linear step, percent of fleet capacity (canary ≤ 50)' })),
  waitSeconds: int(0, 3600).default(300).meta(meta({ description: 'wait after each traffic shift, s' })),
  bakeSeconds: int(0, 3600).default(600).meta(meta({ description: 'baking period after the last shift, before the old fleet is terminated, s' })),
  maxExecutionSeconds: int(600, 14_400).default(3600).meta(meta({ description: 'the update\'s deadline, s (must exceed the waits)' })),
}).check((ctx) => {
  const e = ctx.value;
  if (e.trafficRouting === 'canary' && e.stepPercent > 50) {
    ctx.issues.push({
      code: 'custom', input: e, path: ['stepPercent'],
      message: `a canary may be at most 50% of the fleet (stepPercent is ${e.stepPercent})`,
    });
  }
  const shifts = trafficShifts(e);
  const waiting = shifts * e.waitSeconds + e.bakeSeconds;
  if (waiting >= e.maxExecutionSeconds) {
    ctx.issues.push({
      code: 'custom', input: e, path: ['maxExecutionSeconds'],
      message: `maxExecutionSeconds (${e.maxExecutionSeconds}) must exceed the deployment's total waiting time `
        + `(${shifts} × waitSeconds + bakeSeconds = ${waiting} s)`,
    });
  }
});

const rolloutSettings = section({
  function: oneOf(FUNCTION_DEPLOYMENTS).default('canary10Percent5Minutes').meta(meta({
    description: 'how CodeDeploy shifts the `live` alias to a new version: `none` (no deployment group, the alias moves at once), '
      + '`allAtOnce`, `canary10Percent{5,10,15,30}Minutes`, `linear10PercentEvery{1,2,3,10}Minute(s)`',
  })),
  endpoint: endpointRollout.prefault({}).meta(meta({ description: 'SageMaker deployment guardrails (instance variants)' })),
});

const envSettings = section({
  account: text(/^\d{12}$/, 'a 12-digit AWS account id').optional()
    .meta(meta({ description: 'pin the stage to an account', defaultText: 'the CLI\'s' })),
  region: text(/^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d$/, 'an AWS region such as eu-west-1').optional()
    .meta(meta({ description: 'pin the stage to a region', defaultText: 'the CLI\'s' })),
});

// --- One stage. ---

/** Whether the stage's endpoint is serverless (which sets its payload limit). */
export function isServerless(m: ModelSettings): boolean {
  return m.source === 'existing' ? m.serverless : m.variant.type === 'serverless';
}

/** Label set a stage ships: the configured one, else the model source's. */
export function labelSetName(m: ModelSettings): typeof LABEL_SET_NAMES[number] | 'none' {
  return m.labels ?? (m.source === 'bundled' ? 'imagenet-1k' : m.source === 'builtin' ? 'caltech-256' : 'none');
}

/**
 * Why a variant's endpoint config may not name a KMS key, or `undefined` when it may: SageMaker
 * refuses `KmsKeyId` for serverless variants and for instance types with local NVMe storage.
 */
export function storageKeyRefusal(v: { readonly type: string; readonly instanceType?: string }): string | undefined {
  if (v.type === 'serverless') return 'a serverless endpoint takes no KMS key (SageMaker manages its storage)';
  if (v.instanceType !== undefined && hasLocalInstanceStorage(v.instanceType)) {
    return `${v.instanceType} has local NVMe storage, which the instance encrypts itself; SageMaker refuses a KMS key for it`;
  }
  return undefined;
}

/** Classes of each shipped label file (its number of lines; a test counts them). */
export const LABEL_CLASSES: Readonly<Record<typeof LABEL_SET_NAMES[number], number>> = {
  'imagenet-1k': 1000,
  'caltech-256': 257,
};

/** One entry of `sagefront:stages`. */
export const stageSchema = section({
  env: envSettings.optional().meta(meta({ description: 'account and region of the stage', defaultText: 'the CLI\'s' })),
  model: model.meta(meta({ description: 'the model and its endpoint' })),
  function: functionSettings.prefault({}).meta(meta({ description: 'the Lambda function' })),
  api: apiSettings.prefault({}).meta(meta({ description: 'the REST API' })),
  alarms: alarmsSettings.prefault({}).meta(meta({ description: 'alarm thresholds and where alarms go' })),
  rollout: rolloutSettings.prefault({}).meta(meta({ description: 'how changes reach traffic' })),
  dashboard: bool().default(true).meta(meta({ description: 'a CloudWatch dashboard `sagefront-<stage>`' })),
}).check((ctx) => {
  // Rules that span sections.
  const s = ctx.value;
  const fail = (path: (string | number)[], message: string) => ctx.issues.push({ code: 'custom', input: s, path, message });
  const m = s.model;
  const region = s.env?.region;
  if (m.source === 'builtin' && region !== undefined && !(region in BUILTIN_IMAGE_CLASSIFICATION_ACCOUNTS)) {
    fail(['model', 'source'], `source "builtin" is not available in ${region} `
      + `(known regions: ${Object.keys(BUILTIN_IMAGE_CLASSIFICATION_ACCOUNTS).join(', ')})`);
  }
  const labels = labelSetName(m);
  const k = s.function.defaultTopK;
  if (k !== undefined && labels !== 'none' && k > LABEL_CLASSES[labels]) {
    fail(['function', 'defaultTopK'], `function.defaultTopK (${k}) exceeds the ${LABEL_CLASSES[labels]} classes of ${labels}`);
  }
  const limit = isServerless(m) ? SERVERLESS_MAX_IMAGE_BYTES : REALTIME_MAX_IMAGE_BYTES;
  const maxImageBytes = s.function.maxImageBytes;
  if (maxImageBytes !== undefined && maxImageBytes > limit) {
    fail(['function', 'maxImageBytes'], `must be an integer from 1024 to ${limit}, the endpoint's payload limit`);
  }
  if (m.source !== 'existing' && m.kmsKeyArn !== undefined) {
    const refusal = storageKeyRefusal(m.variant);
    if (refusal) fail(['model', 'kmsKeyArn'], `${refusal}: leave model.kmsKeyArn out`);
  }
  const a = s.api;
  if (a.healthRateLimit !== undefined && a.healthRateLimit > a.throttleRateLimit) {
    fail(['api', 'healthRateLimit'], `api.healthRateLimit (${a.healthRateLimit}) must not exceed api.throttleRateLimit (${a.throttleRateLimit})`);
  }
  if (a.healthBurstLimit !== undefined && a.healthBurstLimit > a.throttleBurstLimit) {
    fail(['api', 'healthBurstLimit'], `api.healthBurstLimit (${a.healthBurstLimit}) must not exceed api.throttleBurstLimit (${a.throttleBurstLimit})`);
  }
  const e = s.rollout.endpoint;
  if (e.trafficRouting !== 'allAtOnce' && m.source !== 'existing' && m.variant.type === 'instance') {
    const minInstances = m.variant.autoscaling ? m.variant.autoscaling.minCapacity : m.variant.initialInstanceCount;
    if (minInstances < 2) {
      fail(['rollout', 'endpoint', 'trafficRouting'], `trafficRouting "${e.trafficRouting}" needs a fleet of at least 2 instances `
        + `(the variant may run ${minInstances}); use "allAtOnce", which still bakes and rolls back`);
    }
  }
});

/** The schema's defaults of the `function` section: what the constructs fall back to as well. */
export const FUNCTION_DEFAULTS = functionSettings.parse({});
/** The schema's defaults of the `api` section. */
export const API_DEFAULTS = apiSettings.parse({});
/** The schema's default alarm thresholds (`datapointsToAlarm`, `invocationsPerHour` are derived). */
export const ALARM_DEFAULTS = alarmThresholdsSchema.parse({});

// --- Types inferred from the schema: the one declaration of each setting. ---

type DeepReadonly<T> = T extends (infer U)[] ? readonly DeepReadonly<U>[]
  : T extends object ? { readonly [K in keyof T]: DeepReadonly<T[K]> } : T;

/** A stage as validated, with the schema's defaults applied. */
export type StageSettings = DeepReadonly<z.output<typeof stageSchema>>;
export type ModelSettings = StageSettings['model'];
export type VariantConfig = DeepReadonly<z.output<typeof variant>>;
export type ServerlessVariantConfig = Extract<VariantConfig, { type: 'serverless' }>;
export type InstanceVariantConfig = Extract<VariantConfig, { type: 'instance' }>;
export type AutoscalingConfig = NonNullable<InstanceVariantConfig['autoscaling']>;
export type FunctionSettings = StageSettings['function'];
export type ApiSettings = StageSettings['api'];
export type AlarmsSettings = StageSettings['alarms'];
export type RolloutConfig = StageSettings['rollout'];
export type EndpointRolloutConfig = RolloutConfig['endpoint'];
export type ModelOutput = NonNullable<ModelSettings['output']>;
export type PreprocessMode = NonNullable<FunctionSettings['preprocess']>;
export type LogLevel = FunctionSettings['logLevel'];
/** One `InvokeEndpoint` target: any of the four fields. */
export type InvocationTarget = DeepReadonly<z.output<typeof invocationTargetSchema>>;

/**
 * The alarm thresholds, resolved: every field set. The `alarms` section of cdk.json and the
 * Operations construct's `thresholds` are this one type.
 */
export type AlarmThresholds = DeepReadonly<Required<z.output<typeof alarmThresholdsSchema>>>;
/** Thresholds as given: any may be left out, the schema's defaults fill them. */
export type AlarmThresholdsInput = DeepReadonly<z.input<typeof alarmThresholdsSchema>>;

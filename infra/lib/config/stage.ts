/**
 * One stage, resolved: validates a `sagefront:stages` entry against the schema and derives what
 * follows from it (the three ordered timeouts, the label file, the payload limit, the defaults
 * that depend on the model source or the quota).
 *
 * `bin/app.ts` reads the raw context once and calls {@link parseStages}; stacks and constructs
 * only see the resolved, readonly {@link StageConfig}.
 */
import { z } from 'zod';
import { QUOTA_PERIOD_HOURS, QuotaPeriod, REALTIME_MAX_IMAGE_BYTES, SERVERLESS_MAX_IMAGE_BYTES } from './aws-facts';
import {
  AlarmThresholds, ApiSettings, FunctionSettings, InvocationTarget, isServerless, LABEL_CLASSES, LABEL_SET_NAMES, labelSetName,
  ModelOutput, ModelSettings, RolloutConfig, stageSchema,
} from './schema';

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
export const LABEL_SETS: Readonly<Record<string, LabelSet>> = Object.fromEntries(
  LABEL_SET_NAMES.map((name) => [name, { name, file: `${name}.txt`, classes: LABEL_CLASSES[name] }]),
);

/**
 * What the function needs to know about the model behind the endpoint. Unset fields are left to
 * the function's own defaults: the stack sets no variable for them.
 */
export interface ModelContract {
  /** Label file shipped in the package. @default none (predictions carry no labels) */
  readonly labels?: LabelSet;
  /** `Content-Type` sent to the endpoint (`MODEL_CONTENT_TYPE`). @default the function's */
  readonly contentType?: string;
  /** Whether the model answers probabilities or logits (`MODEL_OUTPUT`). @default the function's */
  readonly output?: ModelOutput;
  /** `Content-Type` of `/invocations` requests that carry none (`INVOCATIONS_CONTENT_TYPE`). @default the function's */
  readonly invocationsContentType?: string;
  /** `Accept` of `/invocations` requests that carry none (`INVOCATIONS_ACCEPT`). @default the function's (none) */
  readonly invocationsAccept?: string;
  /** Default target of every call (`TARGET_*`). @default none */
  readonly target?: InvocationTarget;
  /** The per-request allow-list (`MODELS`). @default none: every `/models/{name}` is unknown */
  readonly models?: Readonly<Record<string, InvocationTarget>>;
}

/** The REST API's settings, with the `/health` throttle resolved. */
export interface ApiConfig extends Omit<ApiSettings, 'timeoutSeconds' | 'healthRateLimit' | 'healthBurstLimit'> {
  /** Method throttle of keyless `GET`/`HEAD /health`: at most the stage's. */
  readonly healthThrottle: { readonly rateLimit: number; readonly burstLimit: number };
}

/** `/health`'s default method throttle, when the stage's is not lower. */
export const HEALTH_THROTTLE_DEFAULTS = { rateLimit: 5, burstLimit: 10 } as const;

/** Lambda settings of a stage, with the model-dependent values derived. */
export interface FunctionConfig extends Omit<FunctionSettings, 'maxImageBytes'> {
  /** The configured limit, else the endpoint's payload limit. Always set: it depends on the endpoint. */
  readonly maxImageBytes: number;
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

/** The `alarms` section, resolved: thresholds all set, plus where alarms go. */
export interface AlarmsConfig extends AlarmThresholds {
  /** E-mail subscribed to a new, KMS-encrypted alarm topic. @default none */
  readonly email?: string;
  /** An existing SNS topic the alarms notify. @default none */
  readonly topicArn?: string;
}

/** A fully resolved stage. */
export interface StageConfig {
  /** Key in `sagefront:stages`, e.g. `dev`; also the API Gateway stage name. */
  readonly stageName: string;
  /** `sagefront-<stage>`. */
  readonly stackName: string;
  /** @default environment-agnostic (the CLI's account and region) */
  readonly env?: { readonly account?: string; readonly region?: string };
  readonly model: ModelSettings;
  readonly modelContract: ModelContract;
  readonly function: FunctionConfig;
  readonly api: ApiConfig;
  readonly timeouts: Timeouts;
  readonly alarms: AlarmsConfig;
  readonly rollout: RolloutConfig;
  /** A CloudWatch dashboard for the stage. */
  readonly dashboard: boolean;
}

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

/** The cost alarm's default: three times the average hourly rate the usage-plan quota allows. */
export function defaultInvocationsPerHour(quota: { readonly limit: number; readonly period: QuotaPeriod }): number {
  return Math.ceil((3 * quota.limit) / QUOTA_PERIOD_HOURS[quota.period]);
}

/** The default `datapointsToAlarm`: 3, but never more than the periods evaluated. */
export function defaultDatapointsToAlarm(evaluationPeriods: number): number {
  return Math.min(3, evaluationPeriods);
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
  if (typeof raw !== 'object' || Array.isArray(raw) || Object.keys(raw).length === 0) {
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
 * Validates one stage and derives the values that follow from its settings.
 *
 * @throws ConfigError naming the stage and the key path.
 */
export function parseStage(stageName: string, raw: unknown): StageConfig {
  if (!/^[a-z][a-z0-9-]{0,30}$/.test(stageName)) {
    throw new ConfigError(
      `stage name "${stageName}" must start with a lowercase letter and contain only a-z, 0-9 and "-"`,
    );
  }
  const parsed = stageSchema.safeParse(raw, { reportInput: true });
  if (!parsed.success) throw configError(stageName, parsed.error);
  const s = parsed.data;

  const labels = labelSetName(s.model);
  const { timeoutSeconds, healthRateLimit, healthBurstLimit, ...api } = s.api;
  const { datapointsToAlarm, invocationsPerHour, ...alarms } = s.alarms;
  return {
    stageName,
    stackName: `sagefront-${stageName}`,
    env: s.env,
    model: s.model,
    modelContract: {
      labels: labels === 'none' ? undefined : LABEL_SETS[labels],
      contentType: s.model.contentType,
      output: s.model.output,
      invocationsContentType: s.model.invocations?.contentType,
      invocationsAccept: s.model.invocations?.accept,
      target: s.model.target,
      models: s.model.models,
    },
    function: {
      ...s.function,
      // The payload limit depends on the endpoint, so the stack always sets MAX_IMAGE_BYTES.
      maxImageBytes: s.function.maxImageBytes ?? (isServerless(s.model) ? SERVERLESS_MAX_IMAGE_BYTES : REALTIME_MAX_IMAGE_BYTES),
      // The bundled model has 1000 classes: returning all of them by default helps nobody.
      defaultTopK: s.function.defaultTopK ?? (s.model.source === 'bundled' ? 5 : undefined),
    },
    api: {
      ...api,
      healthThrottle: {
        rateLimit: healthRateLimit ?? Math.min(HEALTH_THROTTLE_DEFAULTS.rateLimit, api.throttleRateLimit),
        burstLimit: healthBurstLimit ?? Math.min(HEALTH_THROTTLE_DEFAULTS.burstLimit, api.throttleBurstLimit),
      },
    },
    timeouts: deriveTimeouts(timeoutSeconds),
    alarms: {
      ...alarms,
      datapointsToAlarm: datapointsToAlarm ?? defaultDatapointsToAlarm(alarms.evaluationPeriods),
      invocationsPerHour: invocationsPerHour ?? defaultInvocationsPerHour(api.quota),
    },
    rollout: s.rollout,
    dashboard: s.dashboard,
  };
}

/**
 * The first problem of a failed parse as a {@link ConfigError}:
 * `invalid configuration for stage "dev" (function.memoryMb): must be … (got 64)`.
 */
export function configError(stageName: string, error: z.ZodError): ConfigError {
  return new ConfigError(formatIssue(`invalid configuration for stage "${stageName}"`, error.issues[0]));
}

/** `<prefix> (<key path>): <message>`, with the offending value where it helps. */
export function formatIssue(prefix: string, issue: z.core.$ZodIssue): string {
  const where = issue.path.length > 0 ? ` (${issue.path.join('.')})` : '';
  let message = issue.message;
  if (issue.code === 'invalid_union' && 'options' in issue && Array.isArray(issue.options)) {
    // A discriminated union whose discriminator (`source`, `type`) is missing or unknown.
    const value = gotValue(issue);
    const options = issue.options.filter((o) => o !== undefined).join(', ');
    message = value === undefined ? `is required (one of: ${options})` : `must be one of: ${options} (got ${JSON.stringify(value)})`;
  } else if (issue.code === 'invalid_key' && issue.issues.length > 0) {
    // A record key (a model name) that breaks its rule: the key's own message says which.
    message = issue.issues[0].message;
  } else if (issue.code === 'unrecognized_keys') {
    const keys = issue.keys.map((k) => `"${[...issue.path, k].join('.')}"`).join(', ');
    message = `unknown key${issue.keys.length > 1 ? 's' : ''} ${keys} (${issue.message})`;
  } else if (issue.code !== 'custom' && issue.input !== undefined) {
    message += ` (got ${JSON.stringify(gotValue(issue))})`;
  }
  return `${prefix}${where}: ${message}`;
}

/** The value to quote: a union reports the whole object, the discriminator is what was wrong. */
function gotValue(issue: z.core.$ZodIssue): unknown {
  if (issue.code === 'invalid_union' && 'discriminator' in issue && typeof issue.input === 'object' && issue.input !== null) {
    return (issue.input as Record<string, unknown>)[String(issue.discriminator)];
  }
  return issue.input;
}

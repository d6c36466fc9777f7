/**
 * The whole service in front of one SageMaker endpoint, as one construct to `new` in any stack:
 * the Rust function, the REST API, the alarms and dashboard, and (optionally) the gradual
 * rollout of the function. The endpoint is given: an existing one by name, or a
 * {@link SageMakerEndpoint} created next to it.
 *
 * @example
 * new SagefrontApi(this, 'Api', {
 *   endpoint: ExistingEndpoint.fromName(this, 'my-endpoint'),
 *   code: FunctionCode.fromPackage('sagefront/bootstrap.zip'),
 * });
 */
import { Duration } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import { Construct } from 'constructs';
import {
  FunctionDeployment, MAX_API_TIMEOUT_SECONDS, QuotaPeriod, REALTIME_MAX_IMAGE_BYTES, SERVERLESS_MAX_IMAGE_BYTES,
} from '../config/aws-facts';
import { API_DEFAULTS, AlarmThresholdsInput, RouteName } from '../config/schema';
import { defaultInvocationsPerHour, deriveTimeouts } from '../config/stage';
import { FunctionRollout } from './function-rollout';
import { InferenceApi, InferenceApiProps } from './inference-api';
import { FunctionCode, InferenceFunction, InferenceFunctionProps } from './inference-function';
import { IInferenceEndpoint, SageMakerEndpoint } from './model-endpoint';
import { FUNCTION_ROLLBACK_ALARMS, Operations, WatchedEndpoint } from './operations';

/** The function's settings; each unset one keeps the function's (or the construct's) default. */
export type SagefrontFunctionOptions = Pick<InferenceFunctionProps,
  'memorySize' | 'defaultTopK' | 'modelContentType' | 'modelOutput' | 'preprocess' | 'preprocessMaxSide'
  | 'invocationsContentType' | 'invocationsAccept' | 'target' | 'models'
  | 'reservedConcurrentExecutions' | 'logRetention' | 'logLevel' | 'aliasName'> & {
  /** `MAX_IMAGE_BYTES`, at most the endpoint's payload limit. @default the endpoint's payload limit */
  readonly maxImageBytes?: number;
};

/** The REST API's settings. */
export type SagefrontApiOptions = Pick<InferenceApiProps,
  'throttleRateLimit' | 'throttleBurstLimit' | 'healthThrottle' | 'apiKey' | 'accessLogRetention' | 'corsAllowOrigin'
  | 'webAclArn' | 'securityPolicy' | 'endpointAccessMode'>;

/** Alarms and where they go. */
export interface SagefrontAlarmOptions {
  /**
   * Thresholds; each unset one takes the settings schema's default.
   * @default the schema's defaults, and a cost alarm at 3 × the usage plan's average hourly quota
   */
  readonly thresholds?: AlarmThresholdsInput;
  /** Subscribed to a new KMS-encrypted topic that every alarm notifies. @default none */
  readonly email?: string;
  /** An existing SNS topic every alarm notifies. @default none */
  readonly topicArn?: string;
}

/** Properties of {@link SagefrontApi}. */
export interface SagefrontApiProps {
  /** The endpoint to front: `ExistingEndpoint.fromName(this, 'name')` or a {@link SageMakerEndpoint}. */
  readonly endpoint: IInferenceEndpoint;
  /** Where the function's code comes from. */
  readonly code: FunctionCode;
  /** API Gateway stage name, part of the URL. @default 'api' */
  readonly stageName?: string;
  /**
   * Prefix of the REST API's, the alarms' and the dashboard's names; unique per account and region.
   * @default `sagefront-<stageName>`
   */
  readonly namePrefix?: string;
  /**
   * CloudWatch namespace of the error-code metrics.
   * @default `namePrefix`, a leading `sagefront-` written `sagefront/` (`sagefront-dev` → `sagefront/dev`)
   */
  readonly metricNamespace?: string;
  /**
   * API Gateway's integration timeout (4–29 s). The Lambda gets one second less and each
   * InvokeEndpoint call two seconds less, so the function's own 504 always arrives first.
   * @default 29 seconds
   */
  readonly timeout?: Duration;
  /**
   * Whether the endpoint is serverless, which sets its payload limit (4 MB, else 6 MiB).
   * @default the variant of a SageMakerEndpoint; false for any other endpoint
   */
  readonly serverless?: boolean;
  /**
   * Label file, relative to the workspace root (or inside the package), shipped with the function.
   * @default none: predictions carry class indices only
   */
  readonly labelsFile?: string;
  /**
   * The routes served besides `GET /health` (the function's `ROUTES`); they also set the API's
   * binary media types (`*\/*` with `invocations`, else the image types).
   * @default all: `predictions`, `resize`, `invocations`
   */
  readonly routes?: readonly RouteName[];
  /** @default the function's and the settings schema's defaults */
  readonly function?: SagefrontFunctionOptions;
  /** @default the settings schema's defaults, with an API key and usage plan (10000 requests a day) */
  readonly api?: SagefrontApiOptions;
  /** @default the settings schema's thresholds, no notification */
  readonly alarms?: SagefrontAlarmOptions;
  /** A CloudWatch dashboard named after `namePrefix`. @default true */
  readonly dashboard?: boolean;
  /**
   * How CodeDeploy moves the alias to a new function version; a rollback alarm stops it.
   * @default 'none': the alias moves at once
   */
  readonly functionDeployment?: FunctionDeployment;
}

/** The function, the API and their operations in front of one endpoint. */
export class SagefrontApi extends Construct {
  readonly endpoint: IInferenceEndpoint;
  readonly inferenceFunction: InferenceFunction;
  readonly inferenceApi: InferenceApi;
  readonly operations: Operations;
  /** Present unless `functionDeployment` is `none`. */
  readonly functionRollout?: FunctionRollout;

  constructor(scope: Construct, id: string, props: SagefrontApiProps) {
    super(scope, id);
    const stageName = props.stageName ?? 'api';
    const namePrefix = props.namePrefix ?? `sagefront-${stageName}`;
    const timeout = props.timeout ?? Duration.seconds(MAX_API_TIMEOUT_SECONDS);
    if (timeout.toMilliseconds() % 1000 !== 0) throw new Error(`timeout must be whole seconds (got ${timeout.toMilliseconds()} ms)`);
    const timeouts = deriveTimeouts(timeout.toSeconds());

    this.endpoint = props.endpoint;
    const created = props.endpoint instanceof SageMakerEndpoint ? props.endpoint : undefined;
    const serverless = props.serverless ?? (created?.variant.type === 'serverless');
    const payloadLimit = serverless ? SERVERLESS_MAX_IMAGE_BYTES : REALTIME_MAX_IMAGE_BYTES;
    const { maxImageBytes = payloadLimit, ...fn } = props.function ?? {};
    if (maxImageBytes > payloadLimit) {
      throw new Error(`maxImageBytes (${maxImageBytes}) exceeds the endpoint's payload limit (${payloadLimit} bytes)`);
    }

    this.inferenceFunction = new InferenceFunction(this, 'Function', {
      ...fn,
      code: props.code,
      endpoint: props.endpoint,
      labelsFile: props.labelsFile,
      timeout: Duration.seconds(timeouts.functionSeconds),
      invokeTimeout: Duration.millis(timeouts.invokeMs),
      maxImageBytes,
      corsAllowOrigin: props.api?.corsAllowOrigin,
      routes: props.routes,
    });

    const api = props.api ?? { apiKey: { quotaLimit: API_DEFAULTS.quota.limit, quotaPeriod: API_DEFAULTS.quota.period as apigw.Period } };
    this.inferenceApi = new InferenceApi(this, 'Api', {
      ...api,
      handler: this.inferenceFunction.alias,
      routes: props.routes,
      stageName,
      restApiName: namePrefix,
      integrationTimeout: Duration.millis(timeouts.integrationMs),
    });

    // Only an endpoint created here has a variant whose metrics the alarms can name.
    const watched: WatchedEndpoint | undefined = created && {
      endpointName: created.endpointName,
      variantName: SageMakerEndpoint.VARIANT_NAME,
      serverless: created.variant.type === 'serverless',
      maxConcurrency: created.variant.type === 'serverless' ? created.variant.maxConcurrency : undefined,
    };
    const quota = api.apiKey
      ? { limit: api.apiKey.quotaLimit, period: api.apiKey.quotaPeriod as QuotaPeriod }
      : API_DEFAULTS.quota;
    this.operations = new Operations(this, 'Operations', {
      namePrefix,
      metricNamespace: props.metricNamespace ?? namePrefix.replace(/^sagefront-/, 'sagefront/'),
      apiName: this.inferenceApi.restApiName,
      apiStageName: this.inferenceApi.stageName,
      alias: this.inferenceFunction.alias,
      functionTimeout: Duration.seconds(timeouts.functionSeconds),
      logGroup: this.inferenceFunction.logGroup,
      endpoint: watched,
      thresholds: { invocationsPerHour: defaultInvocationsPerHour(quota), ...props.alarms?.thresholds },
      alarmEmail: props.alarms?.email,
      alarmTopicArn: props.alarms?.topicArn,
      dashboard: props.dashboard,
    });

    const deployment = props.functionDeployment ?? 'none';
    if (deployment !== 'none') {
      this.functionRollout = new FunctionRollout(this, 'Rollout', {
        alias: this.inferenceFunction.alias,
        deployment,
        rollbackAlarms: FUNCTION_ROLLBACK_ALARMS.map((key) => this.operations.alarms[key]),
      });
    }
  }

  /** Invoke URL of the API's stage, ending in `/`. */
  get url(): string {
    return this.inferenceApi.url;
  }
}

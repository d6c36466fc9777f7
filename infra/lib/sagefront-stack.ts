/**
 * One stage of the service as one stack: the SageMaker endpoint (or a reference to one), the
 * Rust function and the REST API. The stack only composes constructs from its typed config.
 */
import * as path from 'node:path';
import { CfnOutput, Duration, Stack, StackProps } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { StageConfig } from './config';
import { FunctionRollout } from './constructs/function-rollout';
import { InferenceApi } from './constructs/inference-api';
import { InferenceFunction } from './constructs/inference-function';
import { EndpointGuardrails, ExistingEndpoint, IInferenceEndpoint, ModelImage, SageMakerEndpoint } from './constructs/model-endpoint';
import { alarmName, FUNCTION_ROLLBACK_ALARMS, MODEL_ROLLBACK_ALARMS, Operations, WatchedEndpoint } from './constructs/operations';

/** Paths of the parts the stack packages, all inside one repository. */
export interface SourceLayout {
  /** Repository root: Cargo workspace, Docker build context, `labels/`. */
  readonly root: string;
  /** Workspace manifest. @default `<root>/Cargo.toml` */
  readonly manifestPath?: string;
  /** The function's binary in the workspace. @default 'sagefront-function' */
  readonly functionBinary?: string;
  /** Model-server Dockerfile, relative to `root`. @default 'model-server/Dockerfile' */
  readonly modelServerDockerfile?: string;
}

/** Properties of {@link SagefrontStack}. */
export interface SagefrontStackProps extends StackProps {
  readonly config: StageConfig;
  readonly source: SourceLayout;
}

/** The whole service for one stage. */
export class SagefrontStack extends Stack {
  readonly endpoint: IInferenceEndpoint;
  readonly inferenceFunction: InferenceFunction;
  readonly inferenceApi: InferenceApi;
  readonly operations: Operations;
  /** Present unless `rollout.function` is `none`. */
  readonly functionRollout?: FunctionRollout;

  constructor(scope: Construct, id: string, props: SagefrontStackProps) {
    super(scope, id, props);
    const { config, source } = props;
    const model = config.model;
    // Instance variants update blue/green with baking, rolled back by the model alarms (named
    // literally: the alarms watch the endpoint, so a reference would be a cycle).
    const guardrails = (variant: { type: string }): EndpointGuardrails | undefined =>
      variant.type !== 'instance' || !config.rollout.endpoint.enabled ? undefined : {
      rollout: config.rollout.endpoint,
      rollbackAlarmNames: MODEL_ROLLBACK_ALARMS.map((key) => alarmName(config.stackName, key)),
    };

    switch (model.source) {
      case 'existing':
        this.endpoint = ExistingEndpoint.fromName(this, model.endpointName);
        break;
      case 'bundled':
        this.endpoint = new SageMakerEndpoint(this, 'Model', {
          image: ModelImage.fromAsset({
            directory: source.root,
            file: source.modelServerDockerfile ?? 'model-server/Dockerfile',
          }),
          variant: model.variant,
          guardrails: guardrails(model.variant),
        });
        break;
      case 'builtin':
        this.endpoint = new SageMakerEndpoint(this, 'Model', {
          image: ModelImage.builtinImageClassification(),
          modelDataUrl: model.modelDataUrl,
          variant: model.variant,
          guardrails: guardrails(model.variant),
        });
        break;
    }

    const fn = config.function;
    const contract = config.modelContract;
    this.inferenceFunction = new InferenceFunction(this, 'Function', {
      manifestPath: source.manifestPath ?? path.join(source.root, 'Cargo.toml'),
      binaryName: source.functionBinary ?? 'sagefront-function',
      endpoint: this.endpoint,
      labelsFile: contract.labels ? `labels/${contract.labels.file}` : undefined,
      memorySize: fn.memoryMb,
      timeout: Duration.seconds(config.timeouts.functionSeconds),
      invokeTimeout: Duration.millis(config.timeouts.invokeMs),
      defaultTopK: fn.defaultTopK,
      maxImageBytes: fn.maxImageBytes,
      modelContentType: contract.contentType,
      modelOutput: contract.output,
      preprocess: fn.preprocess,
      preprocessMaxSide: fn.preprocessMaxSide,
      reservedConcurrentExecutions: fn.reservedConcurrency,
      corsAllowOrigin: config.api.corsAllowOrigin,
      logRetention: fn.logRetentionDays as logs.RetentionDays,
      logLevel: fn.logLevel as lambda.ApplicationLogLevel,
    });

    const api = config.api;
    this.inferenceApi = new InferenceApi(this, 'Api', {
      handler: this.inferenceFunction.alias,
      stageName: config.stageName,
      integrationTimeout: Duration.millis(config.timeouts.integrationMs),
      throttleRateLimit: api.throttleRateLimit,
      throttleBurstLimit: api.throttleBurstLimit,
      apiKey: api.apiKeyRequired
        ? { quotaLimit: api.quota.limit, quotaPeriod: api.quota.period as apigw.Period }
        : undefined,
      accessLogRetention: api.logRetentionDays as logs.RetentionDays,
      corsAllowOrigin: api.corsAllowOrigin,
      webAclArn: api.webAclArn,
    });

    let watched: WatchedEndpoint | undefined;
    if (model.source !== 'existing') {
      watched = {
        endpointName: this.endpoint.endpointName,
        variantName: SageMakerEndpoint.VARIANT_NAME,
        serverless: model.variant.type === 'serverless',
        maxConcurrency: model.variant.type === 'serverless' ? model.variant.maxConcurrency : undefined,
      };
    }
    const alarms = config.alarms;
    this.operations = new Operations(this, 'Operations', {
      namePrefix: config.stackName,
      metricNamespace: `sagefront/${config.stageName}`,
      apiName: this.inferenceApi.restApiName,
      apiStageName: this.inferenceApi.stageName,
      alias: this.inferenceFunction.alias,
      functionTimeout: Duration.seconds(config.timeouts.functionSeconds),
      logGroup: this.inferenceFunction.logGroup,
      endpoint: watched,
      thresholds: alarms,
      alarmEmail: alarms.email,
      alarmTopicArn: alarms.topicArn,
      dashboard: config.dashboard,
    });

    if (config.rollout.function !== 'none') {
      this.functionRollout = new FunctionRollout(this, 'Rollout', {
        alias: this.inferenceFunction.alias,
        deployment: config.rollout.function,
        rollbackAlarms: FUNCTION_ROLLBACK_ALARMS.map((key) => this.operations.alarms[key]),
      });
    }

    new CfnOutput(this, 'ApiUrl', {
      description: 'Base URL of the API (POST {ApiUrl}predictions)',
      value: this.inferenceApi.url,
    });
    new CfnOutput(this, 'EndpointName', {
      description: 'SageMaker endpoint the function invokes',
      value: this.endpoint.endpointName,
    });
    if (this.inferenceApi.apiKey) {
      new CfnOutput(this, 'ApiKeyId', {
        description: 'API key id: aws apigateway get-api-key --include-value --api-key <id>',
        value: this.inferenceApi.apiKey.keyId,
      });
    }
  }
}

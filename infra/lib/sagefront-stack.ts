/**
 * One stage of the service as one stack: the SageMaker endpoint (or a reference to one) and a
 * {@link SagefrontApi} in front of it. The stack only composes constructs from its typed config.
 */
import * as path from 'node:path';
import { CfnOutput, Duration, Stack, StackProps } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { StageConfig } from './config/stage';
import { FunctionCode } from './constructs/inference-function';
import { EndpointGuardrails, ExistingEndpoint, IInferenceEndpoint, ModelImage, SageMakerEndpoint } from './constructs/model-endpoint';
import { alarmName, MODEL_ROLLBACK_ALARMS } from './constructs/operations';
import { SagefrontApi } from './constructs/sagefront-api';

/** The key named in cdk.json (`model.kmsKeyArn`), else undefined: the endpoint creates its own. */
function storageKey(scope: Construct, arn: string | undefined): kms.IKey | undefined {
  return arn === undefined ? undefined : kms.Key.fromKeyArn(scope, 'StorageKey', arn);
}

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
  /** The resolved stage this stack was built from. */
  readonly config: StageConfig;
  readonly endpoint: IInferenceEndpoint;
  readonly service: SagefrontApi;

  constructor(scope: Construct, id: string, props: SagefrontStackProps) {
    super(scope, id, props);
    const { config, source } = props;
    this.config = config;
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
          storageKey: storageKey(this, model.kmsKeyArn),
          guardrails: guardrails(model.variant),
        });
        break;
      case 'builtin':
        this.endpoint = new SageMakerEndpoint(this, 'Model', {
          image: ModelImage.builtinImageClassification(),
          modelDataUrl: model.modelDataUrl,
          variant: model.variant,
          storageKey: storageKey(this, model.kmsKeyArn),
          guardrails: guardrails(model.variant),
        });
        break;
    }

    const fn = config.function;
    const contract = config.modelContract;
    const api = config.api;
    const { email, topicArn, ...thresholds } = config.alarms;
    // Id "Default" leaves the logical ids of everything inside as they were before the service
    // became one construct (CDK drops "Default" from logical ids), so deployed stacks update in
    // place instead of replacing their function, API and alarms.
    this.service = new SagefrontApi(this, 'Default', {
      endpoint: this.endpoint,
      code: FunctionCode.fromWorkspace({
        manifestPath: source.manifestPath ?? path.join(source.root, 'Cargo.toml'),
        binaryName: source.functionBinary ?? 'sagefront-function',
      }),
      stageName: config.stageName,
      namePrefix: config.stackName,
      metricNamespace: `sagefront/${config.stageName}`,
      timeout: Duration.millis(config.timeouts.integrationMs),
      serverless: model.source === 'existing' ? model.serverless : model.variant.type === 'serverless',
      labelsFile: contract.labels ? `labels/${contract.labels.file}` : undefined,
      routes: api.routes,
      function: {
        memorySize: fn.memoryMb,
        defaultTopK: fn.defaultTopK,
        maxImageBytes: fn.maxImageBytes,
        modelContentType: contract.contentType,
        modelOutput: contract.output,
        preprocess: fn.preprocess,
        preprocessMaxSide: fn.preprocessMaxSide,
        invocationsContentType: contract.invocationsContentType,
        invocationsAccept: contract.invocationsAccept,
        target: contract.target,
        models: contract.models,
        reservedConcurrentExecutions: fn.reservedConcurrency,
        logRetention: fn.logRetentionDays as logs.RetentionDays,
        logLevel: fn.logLevel as lambda.ApplicationLogLevel,
      },
      api: {
        throttleRateLimit: api.throttleRateLimit,
        throttleBurstLimit: api.throttleBurstLimit,
        healthThrottle: api.healthThrottle,
        apiKey: api.apiKeyRequired
          ? { quotaLimit: api.quota.limit, quotaPeriod: api.quota.period as apigw.Period }
          : undefined,
        accessLogRetention: api.logRetentionDays as logs.RetentionDays,
        corsAllowOrigin: api.corsAllowOrigin,
        webAclArn: api.webAclArn,
      },
      alarms: { thresholds, email, topicArn },
      dashboard: config.dashboard,
      functionDeployment: config.rollout.function,
    });

    new CfnOutput(this, 'ApiUrl', {
      description: 'Base URL of the API (POST {ApiUrl}predictions)',
      value: this.service.url,
    });
    new CfnOutput(this, 'EndpointName', {
      description: 'SageMaker endpoint the function invokes',
      value: this.endpoint.endpointName,
    });
    if (this.service.inferenceApi.apiKey) {
      new CfnOutput(this, 'ApiKeyId', {
        description: 'API key id: aws apigateway get-api-key --include-value --api-key <id>',
        value: this.service.inferenceApi.apiKey.keyId,
      });
    }
  }
}

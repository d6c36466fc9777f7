/**
 * The SageMaker side of the service: a model, an endpoint config with one production variant and
 * the endpoint, or a reference to an endpoint that exists already. Either way the result is an
 * {@link IInferenceEndpoint}: a name to invoke and the exact ARN to grant.
 *
 * A created endpoint is hardened where its variant allows: the model runs network-isolated, its
 * storage volume is encrypted with a KMS key, and SageMaker may assume the execution role only
 * on behalf of this account and region (confused-deputy conditions).
 */
import { Arn, ArnFormat, Aws, CfnMapping, Duration, Fn, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as appscaling from 'aws-cdk-lib/aws-applicationautoscaling';
import * as ecrAssets from 'aws-cdk-lib/aws-ecr-assets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sagemaker from 'aws-cdk-lib/aws-sagemaker';
import { Construct } from 'constructs';
import { BUILTIN_IMAGE_CLASSIFICATION_ACCOUNTS } from '../config/aws-facts';
import { EndpointRolloutConfig, storageKeyRefusal, VariantConfig } from '../config/schema';

/** What the function needs of an endpoint. */
export interface IInferenceEndpoint {
  /** Name passed to InvokeEndpoint (`ENDPOINT_NAME`). */
  readonly endpointName: string;
  /** ARN that `sagemaker:InvokeEndpoint` is granted on; SageMaker ARNs are lowercase. */
  readonly endpointArn: string;
}

/**
 * An endpoint created outside this stack, referenced by name.
 *
 * @example ExistingEndpoint.fromName(this, 'My-Endpoint')
 */
export class ExistingEndpoint implements IInferenceEndpoint {
  /**
   * References `endpointName` in the stack's account and region. SageMaker lowercases names in
   * ARNs, so a grant on the name as typed would never match a mixed-case endpoint.
   */
  static fromName(scope: Construct, endpointName: string): ExistingEndpoint {
    const endpointArn = Stack.of(scope).formatArn({
      service: 'sagemaker',
      resource: 'endpoint',
      resourceName: endpointName.toLowerCase(),
      arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
    });
    return new ExistingEndpoint(endpointName, endpointArn);
  }

  private constructor(
    readonly endpointName: string,
    readonly endpointArn: string,
  ) {}
}

/** The result of binding a {@link ModelImage} to an endpoint's execution role. */
export interface ModelImageConfig {
  /** Image URI for the model's primary container. */
  readonly imageUri: string;
}

/** The container image that serves the model. */
export abstract class ModelImage {
  /**
   * An image built from a Dockerfile at deploy time and pushed to the CDK assets repository.
   * Synth only stages the build context (filtered by its `.dockerignore`); Docker is not needed
   * until `cdk deploy`.
   */
  static fromAsset(props: ModelImageAssetProps): ModelImage {
    return new AssetModelImage(props);
  }

  /** SageMaker's built-in image-classification algorithm (`image-classification:1`) of the region. */
  static builtinImageClassification(): ModelImage {
    return new BuiltinImageClassification();
  }

  /** Creates what the image needs in `scope` and grants `role` the right to pull it. */
  abstract bind(scope: Construct, role: iam.Role): ModelImageConfig;
}

/** Properties of {@link ModelImage.fromAsset}. */
export interface ModelImageAssetProps {
  /** Docker build context. */
  readonly directory: string;
  /** Dockerfile, relative to `directory`. @default 'Dockerfile' */
  readonly file?: string;
  /** @default linux/amd64 (SageMaker hosting instances and serverless workers are x86_64) */
  readonly platform?: ecrAssets.Platform;
  /** Extra glob patterns kept out of the build context, on top of its `.dockerignore`. @default none */
  readonly exclude?: string[];
}

class AssetModelImage extends ModelImage {
  constructor(private readonly props: ModelImageAssetProps) {
    super();
  }

  bind(scope: Construct, role: iam.Role): ModelImageConfig {
    const asset = new ecrAssets.DockerImageAsset(scope, 'ImageAsset', {
      directory: this.props.directory,
      file: this.props.file,
      platform: this.props.platform ?? ecrAssets.Platform.LINUX_AMD64,
      exclude: this.props.exclude,
    });
    // Grants pull on the CDK assets repository only (ECR grants are per repository), plus
    // ecr:GetAuthorizationToken, which has no resource-level permissions.
    asset.repository.grantPull(role);
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'ecr:GetAuthorizationToken supports no resource-level permissions (it must be "*"); '
        + 'image pulls themselves are granted on the CDK assets repository only.',
    });
    return { imageUri: asset.imageUri };
  }
}

class BuiltinImageClassification extends ModelImage {
  bind(scope: Construct, _role: iam.Role): ModelImageConfig {
    // SageMaker pulls its own algorithm images with service credentials: no ECR grant needed.
    const stack = Stack.of(scope);
    const mappingId = 'BuiltinImageClassificationRegistry';
    const mapping = (stack.node.tryFindChild(mappingId) as CfnMapping | undefined)
      ?? new CfnMapping(stack, mappingId, {
        mapping: Object.fromEntries(
          Object.entries(BUILTIN_IMAGE_CLASSIFICATION_ACCOUNTS).map(([region, account]) => [region, { account }]),
        ),
      });
    const account = mapping.findInMap(Aws.REGION, 'account');
    return { imageUri: Fn.join('', [account, '.dkr.ecr.', Aws.REGION, '.', Aws.URL_SUFFIX, '/image-classification:1']) };
  }
}

/** Properties of {@link SageMakerEndpoint}. */
export interface SageMakerEndpointProps {
  /** The serving container. */
  readonly image: ModelImage;
  /** `s3://bucket/key` of model artifacts; the role may read exactly this object. @default none */
  readonly modelDataUrl?: string;
  /** Serverless or instance-backed production variant. */
  readonly variant: VariantConfig;
  /** Environment of the serving container. @default none */
  readonly environment?: Record<string, string>;
  /**
   * Run the model container without network access (`EnableNetworkIsolation`): no inbound or
   * outbound calls, no AWS credentials inside the container. SageMaker itself still pulls the
   * image and downloads the model data with the execution role. Serverless Inference does not
   * support network isolation (SageMaker Developer Guide, Serverless Inference, "Feature
   * exclusions"), so a serverless variant runs without it and asking for it there throws.
   * @default true for instance variants, false for serverless ones
   */
  readonly networkIsolation?: boolean;
  /**
   * The KMS key that encrypts the endpoint's storage volume (`KmsKeyId`). SageMaker refuses a key
   * for serverless variants and for instance types with local NVMe storage, which are encrypted
   * without one; giving a key there throws.
   * @default a key this construct creates, with yearly rotation, where the variant takes one
   */
  readonly storageKey?: kms.IKey;
  /**
   * Deployment guardrails for endpoint updates: blue/green with this traffic shifting and baking
   * period, rolled back when any of the named alarms fires. Instance variants only: canary and
   * linear sizes are fleet capacity, which a serverless variant does not have (its updates use
   * SageMaker's default blue/green, all at once, without baking).
   * @default SageMaker's default (blue/green, all at once, no baking, no alarm rollback)
   */
  readonly guardrails?: EndpointGuardrails;
}

/** {@link SageMakerEndpointProps.guardrails}. */
export interface EndpointGuardrails {
  readonly rollout: EndpointRolloutConfig;
  /**
   * CloudWatch alarms (by literal name: the alarms watch this endpoint, so a reference would be a
   * dependency cycle) that roll the update back while it runs and during the baking period.
   */
  readonly rollbackAlarmNames: readonly string[];
}

/**
 * A SageMaker model, endpoint config and endpoint with one variant (`AllTraffic`).
 *
 * Physical names are left to CloudFormation: endpoint configs are immutable, so every change
 * creates a new one and CloudFormation swaps the endpoint over without a name clash.
 */
export class SageMakerEndpoint extends Construct implements IInferenceEndpoint {
  /** Variant name of the single production variant. */
  static readonly VARIANT_NAME = 'AllTraffic';

  readonly endpointName: string;
  readonly endpointArn: string;
  /** The production variant, as configured. */
  readonly variant: VariantConfig;
  /** The execution role SageMaker assumes to pull the image and read model data. */
  readonly role: iam.Role;
  readonly endpoint: sagemaker.CfnEndpoint;
  readonly endpointConfig: sagemaker.CfnEndpointConfig;
  /** Present when the variant autoscales. */
  readonly scalableTarget?: appscaling.ScalableTarget;
  /** The key of the endpoint's storage volume; absent where the variant takes none. */
  readonly storageKey?: kms.IKey;
  /** Whether the model runs network-isolated. */
  readonly networkIsolation: boolean;

  constructor(scope: Construct, id: string, props: SageMakerEndpointProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const variant = props.variant;
    this.variant = variant;

    // Confused-deputy protection, as the SageMaker Developer Guide prescribes for inference
    // ("Cross-service confused deputy prevention", SageMaker AI Inference): SageMaker may assume
    // the role only for resources of this account and region. The model's and endpoint's ARNs
    // do not exist before the role, and the guide says not to narrow the pattern to one of them.
    this.role = new iam.Role(this, 'ExecutionRole', {
      assumedBy: new iam.ServicePrincipal('sagemaker.amazonaws.com').withConditions({
        StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID },
        ArnLike: { 'aws:SourceArn': `arn:${Aws.PARTITION}:sagemaker:${Aws.REGION}:${Aws.ACCOUNT_ID}:*` },
      }),
      description: 'Lets SageMaker pull the sagefront model image and write the endpoint logs',
    });
    // The endpoint name is generated by CloudFormation and only known after the endpoint
    // exists, so the log grant covers SageMaker's endpoint log-group prefix.
    const endpointLogs = stack.formatArn({
      service: 'logs',
      resource: 'log-group',
      resourceName: '/aws/sagemaker/Endpoints/*',
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    this.role.addToPolicy(new iam.PolicyStatement({
      actions: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents', 'logs:DescribeLogStreams'],
      resources: [endpointLogs, `${endpointLogs}:log-stream:*`],
    }));
    for (const resource of ['*', '*:log-stream:*']) {
      Validations.of(this.role).acknowledge({
        id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:/aws/sagemaker/Endpoints/${resource}]`,
        reason: 'SageMaker writes container logs to /aws/sagemaker/Endpoints/<endpoint name>; the name is '
          + 'generated by CloudFormation after this role must exist, so the grant is scoped to that prefix.',
      });
    }

    if (props.modelDataUrl !== undefined) {
      this.role.addToPolicy(new iam.PolicyStatement({
        actions: ['s3:GetObject'],
        resources: [s3ObjectArn(props.modelDataUrl)],
      }));
    }

    const serverless = variant.type === 'serverless';
    this.networkIsolation = props.networkIsolation ?? !serverless;
    if (this.networkIsolation && serverless) {
      throw new Error('networkIsolation: Serverless Inference does not support network isolation; use an instance variant');
    }

    const refusal = storageKeyRefusal(variant);
    if (refusal !== undefined && props.storageKey !== undefined) throw new Error(`storageKey: ${refusal}`);
    this.storageKey = refusal !== undefined ? undefined : props.storageKey ?? new kms.Key(this, 'StorageKey', {
      description: 'sagefront: encrypts the SageMaker endpoint\'s storage volume',
      enableKeyRotation: true,
      // Deleting the stack deletes the endpoint first, then schedules the key's deletion: the
      // waiting period leaves time to cancel it.
      removalPolicy: RemovalPolicy.DESTROY,
      pendingWindow: Duration.days(30),
    });
    if (this.storageKey) this.grantStorageKey(this.storageKey);

    const image = props.image.bind(this, this.role);
    const model = new sagemaker.CfnModel(this, 'Model', {
      executionRoleArn: this.role.roleArn,
      enableNetworkIsolation: this.networkIsolation || undefined,
      primaryContainer: {
        image: image.imageUri,
        modelDataUrl: props.modelDataUrl,
        environment: props.environment,
      },
    });
    // SageMaker checks image access when it creates the model: the grants must exist first.
    model.node.addDependency(this.role);

    this.endpointConfig = new sagemaker.CfnEndpointConfig(this, 'EndpointConfig', {
      kmsKeyId: this.storageKey?.keyArn,
      productionVariants: [
        variant.type === 'serverless'
          ? {
            variantName: SageMakerEndpoint.VARIANT_NAME,
            modelName: model.attrModelName,
            serverlessConfig: {
              memorySizeInMb: variant.memoryMb,
              maxConcurrency: variant.maxConcurrency,
              provisionedConcurrency: variant.provisionedConcurrency,
            },
          }
          : {
            variantName: SageMakerEndpoint.VARIANT_NAME,
            modelName: model.attrModelName,
            instanceType: variant.instanceType,
            initialInstanceCount: variant.initialInstanceCount,
            initialVariantWeight: 1,
          },
      ],
    });
    if (props.guardrails && variant.type !== 'instance') {
      throw new Error('deployment guardrails apply to instance variants only (a serverless variant has no fleet capacity to shift)');
    }
    this.endpoint = new sagemaker.CfnEndpoint(this, 'Endpoint', {
      endpointConfigName: this.endpointConfig.attrEndpointConfigName,
      deploymentConfig: props.guardrails ? deploymentConfig(props.guardrails) : undefined,
    });
    this.endpointName = this.endpoint.attrEndpointName;
    this.endpointArn = this.endpoint.attrEndpointArn;

    if (variant.type === 'instance' && variant.autoscaling) {
      const a = variant.autoscaling;
      this.scalableTarget = new appscaling.ScalableTarget(this, 'ScalableTarget', {
        serviceNamespace: appscaling.ServiceNamespace.SAGEMAKER,
        scalableDimension: 'sagemaker:variant:DesiredInstanceCount',
        resourceId: `endpoint/${this.endpointName}/variant/${SageMakerEndpoint.VARIANT_NAME}`,
        minCapacity: a.minCapacity,
        maxCapacity: a.maxCapacity,
        // Application Auto Scaling acts on SageMaker through its service-linked role (created on
        // first use); a role of our own would be ignored and only widen the IAM surface.
        role: iam.Role.fromRoleArn(this, 'AutoscalingRole', stack.formatArn({
          service: 'iam',
          region: '',
          resource: 'role',
          resourceName: 'aws-service-role/sagemaker.application-autoscaling.amazonaws.com/'
            + 'AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint',
        }), { mutable: false }),
      });
      this.scalableTarget.scaleToTrackMetric('InvocationsPerInstance', {
        predefinedMetric: appscaling.PredefinedMetric.SAGEMAKER_VARIANT_INVOCATIONS_PER_INSTANCE,
        targetValue: a.targetInvocationsPerInstance,
      });
    }
  }

  /**
   * What the execution role may do with the storage key: what a service needs to encrypt a volume
   * for it (describe the key, make and read data keys, and hand the volume a grant, only for an
   * AWS resource), on this key alone. The key policy itself stays CDK's default, which lets this
   * account's IAM policies decide: the principal that creates or updates the endpoint (the
   * CloudFormation execution role) gets the key through its own IAM policy, as the
   * CreateEndpointConfig reference requires of the caller.
   */
  private grantStorageKey(key: kms.IKey): void {
    this.role.addToPolicy(new iam.PolicyStatement({
      actions: ['kms:DescribeKey', 'kms:Decrypt', 'kms:GenerateDataKeyWithoutPlaintext'],
      resources: [key.keyArn],
    }));
    this.role.addToPolicy(new iam.PolicyStatement({
      actions: ['kms:CreateGrant'],
      resources: [key.keyArn],
      conditions: { Bool: { 'kms:GrantIsForAWSResource': 'true' } },
    }));
  }
}

/** The `DeploymentConfig` of an endpoint: blue/green with baking and alarm-driven rollback. */
function deploymentConfig(g: EndpointGuardrails): sagemaker.CfnEndpoint.DeploymentConfigProperty {
  const r = g.rollout;
  if (g.rollbackAlarmNames.length < 1 || g.rollbackAlarmNames.length > 10) {
    throw new Error(`auto-rollback takes 1 to 10 alarms (got ${g.rollbackAlarmNames.length})`);
  }
  const step = { type: 'CAPACITY_PERCENT', value: r.stepPercent };
  return {
    blueGreenUpdatePolicy: {
      trafficRoutingConfiguration: {
        type: r.trafficRouting === 'allAtOnce' ? 'ALL_AT_ONCE' : r.trafficRouting === 'canary' ? 'CANARY' : 'LINEAR',
        waitIntervalInSeconds: r.waitSeconds,
        canarySize: r.trafficRouting === 'canary' ? step : undefined,
        linearStepSize: r.trafficRouting === 'linear' ? step : undefined,
      },
      terminationWaitInSeconds: r.bakeSeconds,
      maximumExecutionTimeoutInSeconds: r.maxExecutionSeconds,
    },
    autoRollbackConfiguration: {
      alarms: g.rollbackAlarmNames.map((alarmName) => ({ alarmName })),
    },
  };
}

/** `s3://bucket/key` → `arn:<partition>:s3:::bucket/key`. */
export function s3ObjectArn(url: string): string {
  const m = /^s3:\/\/([^/]+)\/(.+)$/.exec(url);
  if (!m) throw new Error(`not an s3://bucket/key URL: ${url}`);
  return Arn.format({ partition: Aws.PARTITION, service: 's3', region: '', account: '', resource: m[1], resourceName: m[2] });
}

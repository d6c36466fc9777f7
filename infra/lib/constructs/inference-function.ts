/**
 * The Rust Lambda (`RustFunction` from cargo-lambda-cdk) that turns HTTP requests into
 * InvokeEndpoint calls: its package (binary plus label file), configuration, logs, tracing and
 * the one SageMaker permission it has.
 */
import * as path from 'node:path';
import { Duration, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { RustFunction } from 'cargo-lambda-cdk';
import { Construct } from 'constructs';
import { IInferenceEndpoint } from './model-endpoint';

/** Where the Lambda's code lives inside the execution environment. */
export const LAMBDA_TASK_ROOT = '/var/task';

/** Properties of {@link InferenceFunction}. */
export interface InferenceFunctionProps {
  /** Root `Cargo.toml` of the workspace that contains the function. */
  readonly manifestPath: string;
  /** Binary name of the function in that workspace. */
  readonly binaryName: string;
  /** Cargo package that holds the binary. @default binaryName */
  readonly packageName?: string;
  /** The endpoint to invoke; the function may invoke this one and nothing else. */
  readonly endpoint: IInferenceEndpoint;
  /**
   * Label file, relative to the manifest's directory, copied into the package under the same
   * path (`LABELS_PATH=/var/task/<file>`). @default no labels
   */
  readonly labelsFile?: string;
  /** @default 512 */
  readonly memorySize?: number;
  /** Lambda timeout; must exceed `invokeTimeout`. */
  readonly timeout: Duration;
  /** Deadline of one InvokeEndpoint call (`INVOKE_TIMEOUT_MS`). */
  readonly invokeTimeout: Duration;
  /** `DEFAULT_TOP_K`. @default unset: all classes */
  readonly defaultTopK?: number;
  /** `MAX_IMAGE_BYTES`: the endpoint's payload limit. */
  readonly maxImageBytes: number;
  /** `MODEL_CONTENT_TYPE`. @default 'application/x-image' */
  readonly modelContentType?: string;
  /** `MODEL_OUTPUT`. @default 'probabilities' */
  readonly modelOutput?: 'probabilities' | 'logits';
  /** `PREPROCESS`. @default 'oversize' */
  readonly preprocess?: 'off' | 'oversize' | 'always';
  /** `PREPROCESS_MAX_SIDE`. @default 512 */
  readonly preprocessMaxSide?: number;
  /** `CORS_ALLOW_ORIGIN`: the function's `Access-Control-Allow-Origin`. @default CORS off */
  readonly corsAllowOrigin?: string;
  /** @default none */
  readonly reservedConcurrentExecutions?: number;
  /** @default one month */
  readonly logRetention?: logs.RetentionDays;
  /** @default INFO */
  readonly logLevel?: lambda.ApplicationLogLevel;
  /** Extra `cargo lambda build` flags. @default none */
  readonly cargoLambdaFlags?: string[];
  /**
   * Name of the alias callers invoke; it points at the version of the current code, and a
   * CodeDeploy deployment group (when one is attached) shifts it gradually. @default 'live'
   */
  readonly aliasName?: string;
}

/** The function, its role, its log group and the alias callers invoke. */
export class InferenceFunction extends Construct {
  readonly function: lambda.Function;
  /** What the API invokes: every code or configuration change publishes a version behind it. */
  readonly alias: lambda.Alias;
  readonly role: iam.Role;
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: InferenceFunctionProps) {
    super(scope, id);
    if (props.invokeTimeout.toMilliseconds() >= props.timeout.toMilliseconds()) {
      throw new Error(`invokeTimeout (${props.invokeTimeout.toMilliseconds()} ms) must be shorter than the `
        + `Lambda timeout (${props.timeout.toMilliseconds()} ms), so the function can still answer 504 itself`);
    }
    if (props.labelsFile !== undefined && (path.isAbsolute(props.labelsFile) || props.labelsFile.includes('..'))) {
      throw new Error(`labelsFile must be a path inside the workspace (got ${props.labelsFile})`);
    }

    this.logGroup = new logs.LogGroup(this, 'LogGroup', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
    });

    // An explicit role instead of AWSLambdaBasicExecutionRole: logs go to this log group only.
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'sagefront function: its own logs, X-Ray, and InvokeEndpoint on one endpoint',
    });
    this.role.addToPolicy(new iam.PolicyStatement({
      actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
      resources: [this.logGroup.logGroupArn],
    }));
    this.role.addToPolicy(new iam.PolicyStatement({
      actions: ['sagemaker:InvokeEndpoint'],
      resources: [props.endpoint.endpointArn],
    }));

    const environment: Record<string, string> = {
      ENDPOINT_NAME: props.endpoint.endpointName,
      INVOKE_TIMEOUT_MS: String(props.invokeTimeout.toMilliseconds()),
      MAX_IMAGE_BYTES: String(props.maxImageBytes),
      MODEL_CONTENT_TYPE: props.modelContentType ?? 'application/x-image',
      MODEL_OUTPUT: props.modelOutput ?? 'probabilities',
      PREPROCESS: props.preprocess ?? 'oversize',
      PREPROCESS_MAX_SIDE: String(props.preprocessMaxSide ?? 512),
    };
    if (props.labelsFile !== undefined) {
      environment.LABELS_PATH = path.posix.join(LAMBDA_TASK_ROOT, props.labelsFile);
    }
    if (props.defaultTopK !== undefined) {
      environment.DEFAULT_TOP_K = String(props.defaultTopK);
    }
    if (props.corsAllowOrigin !== undefined) {
      environment.CORS_ALLOW_ORIGIN = props.corsAllowOrigin;
    }

    const labelsFile = props.labelsFile;
    this.function = new RustFunction(this, 'Function', {
      manifestPath: props.manifestPath,
      binaryName: props.binaryName,
      architecture: lambda.Architecture.ARM_64,
      runtime: 'provided.al2023',
      memorySize: props.memorySize ?? 512,
      timeout: props.timeout,
      role: this.role,
      logGroup: this.logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      applicationLogLevelV2: props.logLevel ?? lambda.ApplicationLogLevel.INFO,
      systemLogLevelV2: lambda.SystemLogLevel.WARN,
      tracing: lambda.Tracing.ACTIVE,
      reservedConcurrentExecutions: props.reservedConcurrentExecutions,
      environment,
      description: 'sagefront: HTTP API to SageMaker InvokeEndpoint, top-k labelled predictions',
      bundling: {
        // The same profile, target and package selection as the packaging step (`cargo lambda
        // build --release --arm64 -p <package>`) in the shared target dir, so bundling finds
        // nothing to rebuild. `--package` matters: with only `--bin`, cargo selects every
        // workspace member and unifies their dependencies' features, which rebuilds them all.
        cargoLambdaFlags: ['--package', props.packageName ?? props.binaryName, ...(props.cargoLambdaFlags ?? [])],
        commandHooks: {
          beforeBundling: () => [],
          afterBundling: (inputDir: string, outputDir: string) => labelsFile === undefined ? [] : [
            `test -f ${shellQuote(path.posix.join(inputDir, labelsFile))} || { echo "label file ${labelsFile} is missing" >&2; exit 1; }`,
            `mkdir -p ${shellQuote(path.posix.join(outputDir, path.posix.dirname(labelsFile)))}`,
            // 0644: Lambda runs the code as a non-root user that must be able to read the file.
            `install -m 0644 ${shellQuote(path.posix.join(inputDir, labelsFile))} ${shellQuote(path.posix.join(outputDir, labelsFile))}`,
          ],
        },
      },
    });

    this.alias = new lambda.Alias(this, 'Alias', {
      aliasName: props.aliasName ?? 'live',
      version: this.function.currentVersion,
      description: 'What the API invokes; CodeDeploy shifts it between versions when a deployment group is attached',
    });

    Validations.of(this.role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'X-Ray active tracing: xray:PutTraceSegments and xray:PutTelemetryRecords support no '
        + 'resource-level permissions, so "*" is the only possible resource.',
    });
  }
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

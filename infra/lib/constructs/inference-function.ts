/**
 * The Rust Lambda (`RustFunction` from cargo-lambda-cdk) that turns HTTP requests into
 * InvokeEndpoint calls: its package (binary plus label file), configuration, logs, tracing and
 * the one SageMaker permission it has.
 */
import * as path from 'node:path';
import { ArnFormat, Duration, Stack, Token, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { RustFunction } from 'cargo-lambda-cdk';
import { Construct } from 'constructs';
import { z } from 'zod';
import { LAMBDA_ENVIRONMENT_MAX_BYTES } from '../config/aws-facts';
import {
  FUNCTION_DEFAULTS, InvocationTarget, invocationTargetSchema, ModelOutput, modelsSchema, PreprocessMode, ROUTE_NAMES,
  RouteName, routesSchema,
} from '../config/schema';
import { formatIssue } from '../config/stage';
import { IInferenceEndpoint } from './model-endpoint';

/** Where the Lambda's code lives inside the execution environment. */
export const LAMBDA_TASK_ROOT = '/var/task';

/** Where the function's code comes from. */
export abstract class FunctionCode {
  /**
   * Builds the function with cargo-lambda (`cargo lambda build --release --arm64`) from a Cargo
   * workspace that contains it, such as a clone of the sagefront repository. Needs Rust,
   * cargo-lambda and zig at synth time (no Docker).
   */
  static fromWorkspace(props: WorkspaceCodeProps): FunctionCode {
    return new WorkspaceCode(props);
  }

  /**
   * A function package built already: a directory or `.zip` holding `bootstrap` for arm64
   * (`scripts/package` writes `target/lambda/sagefront-function/bootstrap.zip`). It must also
   * hold the label file at {@link InferenceFunctionProps.labelsFile} when one is set.
   */
  static fromPackage(packagePath: string): FunctionCode {
    return new PackageCode(packagePath);
  }

  /** @internal */
  abstract _bind(scope: Construct, options: lambda.FunctionOptions, labelsFile: string | undefined): lambda.Function;
}

/** Properties of {@link FunctionCode.fromWorkspace}. */
export interface WorkspaceCodeProps {
  /** Root `Cargo.toml` of the workspace that contains the function. */
  readonly manifestPath: string;
  /** Binary name of the function in that workspace. @default 'sagefront-function' */
  readonly binaryName?: string;
  /** Cargo package that holds the binary. @default binaryName */
  readonly packageName?: string;
  /** Extra `cargo lambda build` flags. @default none */
  readonly cargoLambdaFlags?: string[];
}

class WorkspaceCode extends FunctionCode {
  constructor(private readonly props: WorkspaceCodeProps) {
    super();
  }

  _bind(scope: Construct, options: lambda.FunctionOptions, labelsFile: string | undefined): lambda.Function {
    const binaryName = this.props.binaryName ?? 'sagefront-function';
    return new RustFunction(scope, 'Function', {
      ...options,
      manifestPath: this.props.manifestPath,
      binaryName,
      runtime: 'provided.al2023',
      bundling: {
        // The same profile, target and package selection as the packaging step (`cargo lambda
        // build --release --arm64 -p <package>`) in the shared target dir, so bundling finds
        // nothing to rebuild. `--package` matters: with only `--bin`, cargo selects every
        // workspace member and unifies their dependencies' features, which rebuilds them all.
        cargoLambdaFlags: ['--package', this.props.packageName ?? binaryName, ...(this.props.cargoLambdaFlags ?? [])],
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
  }
}

class PackageCode extends FunctionCode {
  constructor(private readonly packagePath: string) {
    super();
  }

  _bind(scope: Construct, options: lambda.FunctionOptions): lambda.Function {
    return new lambda.Function(scope, 'Function', {
      ...options,
      code: lambda.Code.fromAsset(this.packagePath),
      handler: 'bootstrap',
      runtime: lambda.Runtime.PROVIDED_AL2023,
    });
  }
}

/**
 * Properties of {@link InferenceFunction}.
 *
 * The function's own settings (`MODEL_CONTENT_TYPE`, `MODEL_OUTPUT`, `PREPROCESS`, …) are passed
 * only when set here: unset, the function's defaults apply (they live in the function alone; the
 * settings reference lists them).
 */
export interface InferenceFunctionProps {
  /** Where the code comes from. */
  readonly code: FunctionCode;
  /** The endpoint to invoke; the function may invoke this one and nothing else. */
  readonly endpoint: IInferenceEndpoint;
  /**
   * Label file, relative to the workspace root (or inside the package), shipped under the same
   * path (`LABELS_PATH=/var/task/<file>`). @default no labels
   */
  readonly labelsFile?: string;
  /** @default `function.memoryMb`'s default in the settings schema */
  readonly memorySize?: number;
  /** Lambda timeout; must exceed `invokeTimeout`. */
  readonly timeout: Duration;
  /** Deadline of one InvokeEndpoint call (`INVOKE_TIMEOUT_MS`); derived from the timeouts, so always set. */
  readonly invokeTimeout: Duration;
  /** `DEFAULT_TOP_K`. @default unset: the function's default */
  readonly defaultTopK?: number;
  /** `MAX_IMAGE_BYTES`: the endpoint's payload limit, which depends on the endpoint, so always set. */
  readonly maxImageBytes: number;
  /** `MODEL_CONTENT_TYPE`. @default unset: the function's default */
  readonly modelContentType?: string;
  /** `MODEL_OUTPUT`. @default unset: the function's default */
  readonly modelOutput?: ModelOutput;
  /** `PREPROCESS`. @default unset: the function's default */
  readonly preprocess?: PreprocessMode;
  /** `PREPROCESS_MAX_SIDE`. @default unset: the function's default */
  readonly preprocessMaxSide?: number;
  /** `CORS_ALLOW_ORIGIN`: the function's `Access-Control-Allow-Origin`. @default unset: CORS off */
  readonly corsAllowOrigin?: string;
  /**
   * `ROUTES`: the routes served besides `GET /health` (`predictions`, `resize`, `invocations`).
   * @default unset: the function serves all of them
   */
  readonly routes?: readonly RouteName[];
  /** `INVOCATIONS_CONTENT_TYPE`: `Content-Type` of `/invocations` requests without one. @default unset: the function's */
  readonly invocationsContentType?: string;
  /** `INVOCATIONS_ACCEPT`: `Accept` of `/invocations` requests without one. @default unset: none is sent */
  readonly invocationsAccept?: string;
  /**
   * `TARGET_*`: where every call goes on the endpoint. An inference component named here is
   * added to the function's `InvokeEndpoint` permission. @default unset: SageMaker chooses
   */
  readonly target?: InvocationTarget;
  /**
   * `MODELS`: the allow-list of `POST /models/{name}/invocations`, public name → target. Every
   * inference component named here is added to the function's `InvokeEndpoint` permission.
   * @default unset: no per-request models
   */
  readonly models?: Readonly<Record<string, InvocationTarget>>;
  /** @default none */
  readonly reservedConcurrentExecutions?: number;
  /** @default `function.logRetentionDays`'s default in the settings schema */
  readonly logRetention?: logs.RetentionDays;
  /** @default `function.logLevel`'s default in the settings schema */
  readonly logLevel?: lambda.ApplicationLogLevel;
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
    // The same rules as cdk.json's (and the function's), for callers of the construct library.
    const routes = props.routes && check('routes', routesSchema, props.routes);
    const target = props.target && check('target', invocationTargetSchema, props.target);
    const models = props.models && check('models', modelsSchema, props.models);

    this.logGroup = new logs.LogGroup(this, 'LogGroup', {
      retention: props.logRetention ?? (FUNCTION_DEFAULTS.logRetentionDays as logs.RetentionDays),
    });

    // An explicit role instead of AWSLambdaBasicExecutionRole: logs go to this log group only.
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'sagefront function: its own logs, X-Ray, and InvokeEndpoint on one endpoint (and its named inference components)',
    });
    this.role.addToPolicy(new iam.PolicyStatement({
      actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
      resources: [this.logGroup.logGroupArn],
    }));
    this.role.addToPolicy(new iam.PolicyStatement({
      actions: ['sagemaker:InvokeEndpoint'],
      resources: [props.endpoint.endpointArn, ...inferenceComponentArns(this, target, models)],
    }));

    // Derived values, always set: the endpoint, the timeout ordering and the payload limit follow
    // from the stage, not from the function's defaults.
    const environment: Record<string, string> = {
      ENDPOINT_NAME: props.endpoint.endpointName,
      INVOKE_TIMEOUT_MS: String(props.invokeTimeout.toMilliseconds()),
      MAX_IMAGE_BYTES: String(props.maxImageBytes),
    };
    if (props.labelsFile !== undefined) {
      environment.LABELS_PATH = path.posix.join(LAMBDA_TASK_ROOT, props.labelsFile);
    }
    // The function's own settings: only when set, so its defaults apply otherwise.
    const optional: Record<string, string | number | undefined> = {
      DEFAULT_TOP_K: props.defaultTopK,
      MODEL_CONTENT_TYPE: props.modelContentType,
      MODEL_OUTPUT: props.modelOutput,
      PREPROCESS: props.preprocess,
      PREPROCESS_MAX_SIDE: props.preprocessMaxSide,
      CORS_ALLOW_ORIGIN: props.corsAllowOrigin,
      // Canonical order, so reordering the list in cdk.json changes nothing.
      ROUTES: routes && ROUTE_NAMES.filter((r) => routes.includes(r)).join(','),
      INVOCATIONS_CONTENT_TYPE: props.invocationsContentType,
      INVOCATIONS_ACCEPT: props.invocationsAccept,
      TARGET_INFERENCE_COMPONENT: target?.inferenceComponent,
      TARGET_MODEL: target?.targetModel,
      TARGET_VARIANT: target?.targetVariant,
      TARGET_CONTAINER_HOSTNAME: target?.targetContainerHostname,
      MODELS: models && JSON.stringify(models),
    };
    for (const [name, value] of Object.entries(optional)) {
      if (value !== undefined) environment[name] = String(value);
    }
    checkEnvironmentSize(environment);

    this.function = props.code._bind(this, {
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memorySize ?? FUNCTION_DEFAULTS.memoryMb,
      timeout: props.timeout,
      role: this.role,
      logGroup: this.logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      applicationLogLevelV2: props.logLevel ?? (FUNCTION_DEFAULTS.logLevel as lambda.ApplicationLogLevel),
      systemLogLevelV2: lambda.SystemLogLevel.WARN,
      tracing: lambda.Tracing.ACTIVE,
      reservedConcurrentExecutions: props.reservedConcurrentExecutions,
      environment,
      description: 'sagefront: HTTP API to SageMaker InvokeEndpoint, top-k labelled predictions',
    }, props.labelsFile);

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

/** `value` parsed with `schema`, or an Error that names the property and what is wrong. */
function check<T>(property: string, schema: z.ZodType<T>, value: unknown): T {
  const parsed = schema.safeParse(value, { reportInput: true });
  if (!parsed.success) throw new Error(formatIssue(`invalid ${property}`, parsed.error.issues[0]));
  return parsed.data;
}

/**
 * The ARNs IAM evaluates for `sagemaker:InvokeEndpoint` with an `InferenceComponentName`, for
 * every inference component the function may name: `InvokeEndpoint`'s resource types are
 * `endpoint` and `inference-component`, whose ARN is
 * `arn:${Partition}:sagemaker:${Region}:${Account}:inference-component/${InferenceComponentName}`
 * (Service Authorization Reference, "Actions, resources, and condition keys for Amazon
 * SageMaker", https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonsagemaker.html).
 * SageMaker writes names lowercased in ARNs, as with endpoints. None when none is named.
 */
export function inferenceComponentArns(
  scope: Construct, target?: InvocationTarget, models?: Readonly<Record<string, InvocationTarget>>,
): string[] {
  const names = [target, ...Object.values(models ?? {})]
    .map((t) => t?.inferenceComponent?.toLowerCase())
    .filter((n): n is string => n !== undefined);
  return [...new Set(names)].sort().map((name) => Stack.of(scope).formatArn({
    service: 'sagemaker',
    resource: 'inference-component',
    resourceName: name,
    arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
  }));
}

/** The longest value a variable that is still a token (the endpoint's generated name) can take. */
const UNRESOLVED_VALUE_BYTES = 63;

/**
 * Bytes Lambda counts for `environment`: the variables as one JSON object. A value CloudFormation
 * fills in later counts as its longest possible value (a SageMaker name: 63 characters).
 */
export function environmentBytes(environment: Readonly<Record<string, string>>): number {
  const measured = Object.fromEntries(Object.entries(environment)
    .map(([k, v]) => [k, Token.isUnresolved(v) ? 'x'.repeat(UNRESOLVED_VALUE_BYTES) : v]));
  return Buffer.byteLength(JSON.stringify(measured), 'utf8');
}

/** Throws, naming the largest variables, when the environment exceeds Lambda's 4 KB. */
function checkEnvironmentSize(environment: Readonly<Record<string, string>>): void {
  const bytes = environmentBytes(environment);
  if (bytes <= LAMBDA_ENVIRONMENT_MAX_BYTES) return;
  const largest = Object.keys(environment)
    .map((k) => [k, environmentBytes({ [k]: environment[k] })] as const)
    .sort((a, b) => b[1] - a[1]).slice(0, 3)
    .map(([k, n]) => `${k} (${n} bytes)`).join(', ');
  throw new Error(`the function's environment is ${bytes} bytes, over Lambda's limit of ${LAMBDA_ENVIRONMENT_MAX_BYTES} bytes `
    + `(4 KB, measured as JSON); the largest variables: ${largest}. Shorten the allow-list of models (MODELS) or the targets`);
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

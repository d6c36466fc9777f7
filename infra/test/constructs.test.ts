/**
 * Construct-level checks: props that would break the timeout ordering or the package layout throw,
 * and SagefrontApi works in a stack of one's own (defaults, a created endpoint, bad props).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { addNagChecks } from '../lib/app';
import { InferenceApi } from '../lib/constructs/inference-api';
import { FunctionCode, InferenceFunction, InferenceFunctionProps } from '../lib/constructs/inference-function';
import { ExistingEndpoint, ModelImage, s3ObjectArn, SageMakerEndpoint } from '../lib/constructs/model-endpoint';
import { SagefrontApi } from '../lib/constructs/sagefront-api';
import { FIXTURE, resourcesOf, tempDir, testApp } from './helpers';

function functionProps(stack: Stack, overrides: Partial<InferenceFunctionProps> = {}): InferenceFunctionProps {
  return {
    code: FunctionCode.fromWorkspace({ manifestPath: path.join(FIXTURE.root, 'Cargo.toml') }),
    endpoint: ExistingEndpoint.fromName(stack, 'ep'),
    timeout: Duration.seconds(10),
    invokeTimeout: Duration.seconds(9),
    maxImageBytes: 4_000_000,
    ...overrides,
  };
}

describe('InferenceFunction', () => {
  test('throws when InvokeEndpoint could outlive the Lambda', () => {
    const stack = new Stack(testApp(), 'S');
    expect(() => new InferenceFunction(stack, 'F', functionProps(stack, { invokeTimeout: Duration.seconds(10) })))
      .toThrow(/invokeTimeout \(10000 ms\) must be shorter than the Lambda timeout \(10000 ms\)/);
  });

  test('throws for a label file outside the workspace', () => {
    const stack = new Stack(testApp(), 'S');
    expect(() => new InferenceFunction(stack, 'F', functionProps(stack, { labelsFile: '../secrets.txt' })))
      .toThrow(/labelsFile must be a path inside the workspace/);
    expect(() => new InferenceFunction(stack, 'G', functionProps(stack, { labelsFile: '/etc/passwd' })))
      .toThrow(/labelsFile must be a path inside the workspace/);
  });
});

describe('InferenceApi', () => {
  function api(stack: Stack, handler: lambda.IFunction, integrationTimeout: Duration): InferenceApi {
    return new InferenceApi(stack, 'Api', {
      handler, stageName: 's', integrationTimeout, throttleRateLimit: 1, throttleBurstLimit: 1,
    });
  }

  test('throws for an integration timeout above API Gateway\'s 29 s', () => {
    const stack = new Stack(testApp(), 'S');
    const fn = new InferenceFunction(stack, 'F', functionProps(stack));
    expect(() => api(stack, fn.function, Duration.seconds(30))).toThrow(/integrationTimeout must be 50 ms to 29 s/);
  });

  test('throws when the function could time out after the integration', () => {
    const stack = new Stack(testApp(), 'S');
    const fn = new InferenceFunction(stack, 'F', functionProps(stack));
    expect(() => api(stack, fn.function, Duration.seconds(10)))
      .toThrow(/the function's timeout \(10 s\) must be shorter than the integration timeout \(10000 ms\)/);
  });
});

describe('ARNs', () => {
  test('an existing endpoint is granted by its lowercased name, invoked by its own', () => {
    const stack = new Stack(testApp(), 'S', { env: { account: '123456789012', region: 'eu-west-1' } });
    const ep = ExistingEndpoint.fromName(stack, 'Image-Classifier-V2');
    expect(ep.endpointName).toBe('Image-Classifier-V2');
    expect(stack.resolve(ep.endpointArn)).toBe('arn:aws:sagemaker:eu-west-1:123456789012:endpoint/image-classifier-v2');
  });

  test('model data is granted as exactly one S3 object', () => {
    const stack = new Stack(testApp(), 'S');
    expect(stack.resolve(s3ObjectArn('s3://bucket/a/b/model.tar.gz')))
      .toEqual({ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':s3:::bucket/a/b/model.tar.gz']] });
    expect(() => s3ObjectArn('https://bucket/key')).toThrow(/not an s3:\/\/bucket\/key URL/);
  });
});

describe('SagefrontApi in a stack of one\'s own', () => {
  /** A prebuilt function package, as `scripts/package` makes one. */
  function packageDir(): string {
    const dir = tempDir('sagefront-package-');
    fs.writeFileSync(path.join(dir, 'bootstrap'), 'binary', { mode: 0o755 });
    return dir;
  }

  function envOf(t: Template): Record<string, unknown> {
    const [[, fn]] = resourcesOf(t, 'AWS::Lambda::Function');
    return (fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
  }

  test('in front of an existing endpoint with every default: the function\'s own settings unset, an API key, no model alarms', () => {
    const app = testApp();
    const stack = new Stack(app, 'Mine');
    const service = new SagefrontApi(stack, 'Inference', {
      endpoint: ExistingEndpoint.fromName(stack, 'my-endpoint'),
      code: FunctionCode.fromPackage(packageDir()),
    });
    addNagChecks(app);
    const t = Template.fromStack(stack);
    expect(envOf(t)).toEqual({ ENDPOINT_NAME: 'my-endpoint', INVOKE_TIMEOUT_MS: '27000', MAX_IMAGE_BYTES: '6291456' });
    t.hasResourceProperties('AWS::Lambda::Function', { Handler: 'bootstrap', Runtime: 'provided.al2023', Architectures: ['arm64'], MemorySize: 512, Timeout: 28 });
    t.hasResourceProperties('AWS::ApiGateway::UsagePlan', { Quota: { Limit: 10000, Period: 'DAY' }, Throttle: { RateLimit: 10, BurstLimit: 20 } });
    t.hasResourceProperties('AWS::ApiGateway::RestApi', { Name: 'sagefront-api' });
    t.hasResourceProperties('AWS::ApiGateway::Stage', { StageName: 'api' });
    const alarms = resourcesOf(t, 'AWS::CloudWatch::Alarm').map(([, a]) => a.Properties.AlarmName as string);
    expect(alarms).toContain('sagefront-api-function-errors');
    expect(alarms.filter((n) => n.startsWith('sagefront-api-model-'))).toEqual([]); // no variant to watch
    t.resourceCountIs('AWS::CodeDeploy::DeploymentGroup', 0);
    expect(service.functionRollout).toBeUndefined();
  });

  test('next to a serverless SageMakerEndpoint: its payload limit, its alarms, a rollout when asked', () => {
    const stack = new Stack(testApp(), 'Mine');
    const endpoint = new SageMakerEndpoint(stack, 'Model', {
      image: ModelImage.builtinImageClassification(),
      modelDataUrl: 's3://bucket/model.tar.gz',
      variant: { type: 'serverless', memoryMb: 2048, maxConcurrency: 2 },
    });
    new SagefrontApi(stack, 'Inference', {
      endpoint,
      code: FunctionCode.fromPackage(packageDir()),
      stageName: 'v1',
      timeout: Duration.seconds(10),
      function: { preprocess: 'always' },
      alarms: { thresholds: { modelLatencyP99Ms: 1234 } },
      functionDeployment: 'allAtOnce',
    });
    const t = Template.fromStack(stack);
    expect(envOf(t)).toMatchObject({ MAX_IMAGE_BYTES: '4000000', INVOKE_TIMEOUT_MS: '8000', PREPROCESS: 'always' });
    t.hasResourceProperties('AWS::CloudWatch::Alarm', { AlarmName: 'sagefront-v1-model-latency-p99', Threshold: 1234 * 1000 });
    t.hasResourceProperties('AWS::CloudWatch::Alarm', { AlarmName: 'sagefront-v1-model-setup-time' });
    t.resourceCountIs('AWS::CodeDeploy::DeploymentGroup', 1);
  });

  test('refuses an image limit above the endpoint\'s payload limit, and bad thresholds by key', () => {
    const stack = new Stack(testApp(), 'Mine');
    const base = { endpoint: ExistingEndpoint.fromName(stack, 'e'), code: FunctionCode.fromPackage(packageDir()), serverless: true };
    expect(() => new SagefrontApi(stack, 'A', { ...base, function: { maxImageBytes: 5_000_000 } }))
      .toThrow(/maxImageBytes \(5000000\) exceeds the endpoint's payload limit \(4000000 bytes\)/);
    expect(() => new SagefrontApi(stack, 'B', { ...base, alarms: { thresholds: { api5xxPercent: 0 } } }))
      .toThrow(/invalid alarm thresholds \(api5xxPercent\): must be an integer from 1 to 100 \(got 0\)/);
  });
});

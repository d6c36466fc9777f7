/** Construct-level checks: props that would break the timeout ordering or the package layout throw. */
import * as path from 'node:path';
import { Duration, Stack } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { InferenceApi } from '../lib/constructs/inference-api';
import { FunctionCode, InferenceFunction, InferenceFunctionProps } from '../lib/constructs/inference-function';
import { ExistingEndpoint, s3ObjectArn } from '../lib/constructs/model-endpoint';
import { FIXTURE, testApp } from './helpers';

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

import { Match, Template } from 'aws-cdk-lib/assertions';
import { StageConfig } from '../lib/config';
import { CONTRACT_RESPONSES } from '../lib/constructs/inference-api';
import { resourcesOf, stageConfig, synthStage } from './helpers';

const BUILTIN = { model: { source: 'builtin', modelDataUrl: 's3://my-training-bucket/jobs/ic-1/output/model.tar.gz' } };
const EXISTING = { model: { source: 'existing', endpointName: 'My-Mixed-Case-Endpoint', variant: undefined } };

/** Templates are synthesized once per configuration; the tests only read them. */
const cache = new Map<string, Template>();
function template(name: string, config: () => StageConfig): Template {
  if (!cache.has(name)) cache.set(name, synthStage(config()).template);
  return cache.get(name)!;
}
const dev = () => template('dev', () => stageConfig('dev'));
const prod = () => template('prod', () => stageConfig('prod'));
const builtin = () => template('builtin', () => stageConfig('dev', BUILTIN));
const existing = () => template('existing', () => stageConfig('dev', EXISTING));

function invokeStatements(t: Template): Record<string, unknown>[] {
  return resourcesOf(t, 'AWS::IAM::Policy')
    .flatMap(([, r]) => (r.Properties.PolicyDocument as { Statement: Record<string, unknown>[] }).Statement)
    .filter((s) => JSON.stringify(s.Action).includes('sagemaker:'));
}

function lambdaEnv(t: Template): Record<string, unknown> {
  const [[, fn]] = resourcesOf(t, 'AWS::Lambda::Function');
  return (fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
}

describe('SageMaker resources per model source', () => {
  test('bundled dev: image-asset model on a serverless endpoint, no physical names', () => {
    const t = dev();
    t.resourceCountIs('AWS::SageMaker::Model', 1);
    t.resourceCountIs('AWS::SageMaker::EndpointConfig', 1);
    t.resourceCountIs('AWS::SageMaker::Endpoint', 1);
    t.hasResourceProperties('AWS::SageMaker::EndpointConfig', {
      EndpointConfigName: Match.absent(),
      ProductionVariants: [{
        VariantName: 'AllTraffic',
        ServerlessConfig: { MemorySizeInMB: 3072, MaxConcurrency: 5 },
        InstanceType: Match.absent(),
      }],
    });
    t.hasResourceProperties('AWS::SageMaker::Endpoint', { EndpointName: Match.absent() });
    t.hasResourceProperties('AWS::SageMaker::Model', {
      ModelName: Match.absent(),
      PrimaryContainer: { Image: { 'Fn::Sub': Match.stringLikeRegexp('container-assets') }, ModelDataUrl: Match.absent() },
    });
    t.resourceCountIs('AWS::ApplicationAutoScaling::ScalableTarget', 0);
  });

  test('bundled: the execution role pulls from the CDK assets repository only', () => {
    const t = dev();
    const [[, role]] = resourcesOf(t, 'AWS::IAM::Role').filter(([, r]) =>
      JSON.stringify(r.Properties.AssumeRolePolicyDocument).includes('sagemaker.amazonaws.com'));
    expect(role).toBeDefined();
    const statements = resourcesOf(t, 'AWS::IAM::Policy')
      .filter(([id]) => id.startsWith('ModelExecutionRole'))
      .flatMap(([, p]) => (p.Properties.PolicyDocument as { Statement: { Action: string | string[]; Resource: unknown }[] }).Statement);
    const pull = statements.find((s) => [s.Action].flat().includes('ecr:BatchGetImage'));
    expect(JSON.stringify(pull!.Resource)).toContain('container-assets');
    const token = statements.find((s) => [s.Action].flat().includes('ecr:GetAuthorizationToken'));
    expect(token!.Resource).toBe('*');
    expect([token!.Action].flat()).toEqual(['ecr:GetAuthorizationToken']);
    expect(statements.some((s) => JSON.stringify(s.Action).includes('s3:'))).toBe(false);
  });

  test('prod: instance variant with autoscaling on invocations per instance', () => {
    const t = prod();
    t.hasResourceProperties('AWS::SageMaker::EndpointConfig', {
      ProductionVariants: [{ VariantName: 'AllTraffic', InstanceType: 'ml.c5.large', InitialInstanceCount: 1, ServerlessConfig: Match.absent() }],
    });
    t.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', {
      ServiceNamespace: 'sagemaker',
      ScalableDimension: 'sagemaker:variant:DesiredInstanceCount',
      MinCapacity: 1,
      MaxCapacity: 4,
      ResourceId: { 'Fn::Join': ['', ['endpoint/', { 'Fn::GetAtt': [Match.stringLikeRegexp('^ModelEndpoint'), 'EndpointName'] }, '/variant/AllTraffic']] },
      RoleARN: { 'Fn::Join': ['', Match.arrayWith([Match.stringLikeRegexp('AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint')])] },
    });
    t.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', {
      PolicyType: 'TargetTrackingScaling',
      TargetTrackingScalingPolicyConfiguration: {
        PredefinedMetricSpecification: { PredefinedMetricType: 'SageMakerVariantInvocationsPerInstance' },
        TargetValue: 600,
      },
    });
  });

  test('serverless provisioned concurrency is passed through', () => {
    const { template: t } = synthStage(stageConfig('dev', { model: { variant: { provisionedConcurrency: 2 } } }));
    t.hasResourceProperties('AWS::SageMaker::EndpointConfig', {
      ProductionVariants: [{ ServerlessConfig: { MemorySizeInMB: 3072, MaxConcurrency: 5, ProvisionedConcurrency: 2 } }],
    });
  });

  test('builtin: the region\'s algorithm image and model data the role may read, nothing more', () => {
    const t = builtin();
    const mapping = t.findMappings('*');
    const [registry] = Object.values(mapping) as Record<string, { account: string }>[];
    expect(registry['us-east-1']).toEqual({ account: '811284229777' });
    expect(registry['eu-west-1']).toEqual({ account: '685385470294' });
    t.hasResourceProperties('AWS::SageMaker::Model', {
      PrimaryContainer: {
        Image: { 'Fn::Join': ['', Match.arrayWith([{ 'Fn::FindInMap': [Match.anyValue(), { Ref: 'AWS::Region' }, 'account'] }, '/image-classification:1'])] },
        ModelDataUrl: 's3://my-training-bucket/jobs/ic-1/output/model.tar.gz',
      },
    });
    t.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([{
          Action: 's3:GetObject',
          Effect: 'Allow',
          Resource: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':s3:::my-training-bucket/jobs/ic-1/output/model.tar.gz']] },
        }]),
      },
    });
    t.resourceCountIs('AWS::ECR::Repository', 0);
    expect(JSON.stringify(t.toJSON())).not.toContain('ecr:');
  });

  test('existing: no SageMaker resources at all', () => {
    const t = existing();
    for (const type of ['Model', 'EndpointConfig', 'Endpoint']) t.resourceCountIs(`AWS::SageMaker::${type}`, 0);
    t.resourceCountIs('AWS::ApplicationAutoScaling::ScalableTarget', 0);
  });
});

describe('IAM: InvokeEndpoint on exactly one endpoint', () => {
  test.each([['dev', dev], ['prod', prod], ['builtin', builtin]])('%s: the created endpoint\'s own ARN', (_n, t) => {
    const statements = invokeStatements(t());
    expect(statements).toEqual([{
      Action: 'sagemaker:InvokeEndpoint',
      Effect: 'Allow',
      Resource: { 'Fn::GetAtt': [expect.stringMatching(/^ModelEndpoint/), 'EndpointArn'] },
    }]);
  });

  test('existing: the lowercased name in the stack\'s account and region', () => {
    expect(invokeStatements(existing())).toEqual([{
      Action: 'sagemaker:InvokeEndpoint',
      Effect: 'Allow',
      Resource: {
        'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':sagemaker:', { Ref: 'AWS::Region' }, ':',
          { Ref: 'AWS::AccountId' }, ':endpoint/my-mixed-case-endpoint']],
      },
    }]);
    expect(lambdaEnv(existing()).ENDPOINT_NAME).toBe('My-Mixed-Case-Endpoint');
  });

  test.each([['dev', dev], ['prod', prod], ['builtin', builtin], ['existing', existing]])(
    '%s: no statement grants SageMaker on "*", and "*" only where no resource level exists', (_n, t) => {
      const statements = resourcesOf(t(), 'AWS::IAM::Policy')
        .flatMap(([, p]) => (p.Properties.PolicyDocument as { Statement: { Action: string | string[]; Resource: unknown }[] }).Statement);
      for (const s of statements) {
        const resources = [s.Resource].flat();
        if (resources.includes('*')) {
          expect([s.Action].flat().every((a) => a.startsWith('xray:') || a === 'ecr:GetAuthorizationToken')).toBe(true);
        }
      }
      expect(JSON.stringify(statements)).not.toMatch(/"sagemaker:\*"/);
    });

  test('the function role has no AWS managed policies', () => {
    for (const [, role] of resourcesOf(dev(), 'AWS::IAM::Role')) {
      expect(role.Properties.ManagedPolicyArns).toBeUndefined();
    }
  });
});

describe('Lambda', () => {
  test('RustFunction on arm64 provided.al2023 with X-Ray, JSON logs and its own log group', () => {
    const t = dev();
    t.resourceCountIs('AWS::Lambda::Function', 1);
    t.hasResourceProperties('AWS::Lambda::Function', {
      Architectures: ['arm64'],
      Runtime: 'provided.al2023',
      Handler: 'bootstrap',
      MemorySize: 512,
      Timeout: 28,
      TracingConfig: { Mode: 'Active' },
      LoggingConfig: { LogFormat: 'JSON', ApplicationLogLevel: 'INFO', LogGroup: { Ref: Match.stringLikeRegexp('^FunctionLogGroup') } },
      ReservedConcurrentExecutions: Match.absent(),
    });
    t.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 14 });
  });

  test('bundled environment: endpoint, ImageNet labels in the package, top-5, serverless limit, nothing else', () => {
    // The function's own settings (MODEL_CONTENT_TYPE, MODEL_OUTPUT, PREPROCESS, ...) are absent:
    // cdk.json does not set them, so the function's defaults apply.
    expect(lambdaEnv(dev())).toEqual({
      ENDPOINT_NAME: { 'Fn::GetAtt': [expect.stringMatching(/^ModelEndpoint/), 'EndpointName'] },
      INVOKE_TIMEOUT_MS: '27000',
      LABELS_PATH: '/var/task/labels/imagenet-1k.txt',
      DEFAULT_TOP_K: '5',
      MAX_IMAGE_BYTES: '4000000',
    });
  });

  test('prod environment: real-time payload limit and more memory', () => {
    expect(lambdaEnv(prod())).toMatchObject({ MAX_IMAGE_BYTES: '6291456', DEFAULT_TOP_K: '5' });
    prod().hasResourceProperties('AWS::Lambda::Function', { MemorySize: 1024 });
    prod().hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 90 });
  });

  test('builtin environment: Caltech-256 labels, all classes by default', () => {
    const env = lambdaEnv(builtin());
    expect(env.LABELS_PATH).toBe('/var/task/labels/caltech-256.txt');
    expect(env.DEFAULT_TOP_K).toBeUndefined();
  });

  test('existing environment: configured model contract, no labels', () => {
    const { template: t } = synthStage(stageConfig('dev', {
      model: { ...EXISTING.model, output: 'logits', contentType: 'image/jpeg' },
      function: { defaultTopK: 3, preprocess: 'always', preprocessMaxSide: 224, reservedConcurrency: 7 },
    }));
    expect(lambdaEnv(t)).toMatchObject({ MODEL_OUTPUT: 'logits', MODEL_CONTENT_TYPE: 'image/jpeg', DEFAULT_TOP_K: '3', PREPROCESS: 'always', PREPROCESS_MAX_SIDE: '224' });
    expect(lambdaEnv(t).LABELS_PATH).toBeUndefined();
    t.hasResourceProperties('AWS::Lambda::Function', { ReservedConcurrentExecutions: 7 });
  });

  test('timeouts stay ordered in the template: invoke < Lambda < integration <= 29 s', () => {
    const { template: t } = synthStage(stageConfig('dev', { api: { timeoutSeconds: 12 } }));
    t.hasResourceProperties('AWS::Lambda::Function', { Timeout: 11 });
    expect(lambdaEnv(t).INVOKE_TIMEOUT_MS).toBe('10000');
    t.hasResourceProperties('AWS::ApiGateway::Method', { Integration: { TimeoutInMillis: 12000 } });
  });
});

describe('REST API', () => {
  test('regional endpoint, stage throttling, tracing and JSON access logs', () => {
    const t = dev();
    t.hasResourceProperties('AWS::ApiGateway::RestApi', {
      EndpointConfiguration: { Types: ['REGIONAL'] },
    });
    t.hasResourceProperties('AWS::ApiGateway::Stage', {
      StageName: 'dev',
      TracingEnabled: true,
      MethodSettings: Match.arrayWith([Match.objectLike({ HttpMethod: '*', ResourcePath: '/*', ThrottlingRateLimit: 5, ThrottlingBurstLimit: 10 })]),
      AccessLogSetting: {
        DestinationArn: Match.anyValue(),
        Format: Match.stringLikeRegexp('"requestId":"\\$context.requestId"'),
      },
    });
    const [[, stage]] = resourcesOf(t, 'AWS::ApiGateway::Stage');
    expect(JSON.stringify((stage.Properties.AccessLogSetting as { DestinationArn: unknown }).DestinationArn))
      .toMatch(/"ApiAccessLogs[0-9A-F]+"/);
    // Execution logging would need the account-wide AWS::ApiGateway::Account: never owned here.
    t.resourceCountIs('AWS::ApiGateway::Account', 0);
  });

  test('routes: / and {proxy+} forward everything with a key in prod; /health GET and HEAD reach the function without one', () => {
    const t = prod();
    const paths = Object.fromEntries(resourcesOf(t, 'AWS::ApiGateway::Resource')
      .map(([id, r]) => [id, r.Properties.PathPart]));
    const methods = resourcesOf(t, 'AWS::ApiGateway::Method').map(([, m]) => {
      const ref = (m.Properties.ResourceId as { Ref?: string }).Ref;
      const integration = m.Properties.Integration as { Type: string; TimeoutInMillis?: number };
      return { path: ref === undefined ? '/' : paths[ref], method: m.Properties.HttpMethod, key: m.Properties.ApiKeyRequired, type: integration.Type };
    });
    expect(methods).toEqual(expect.arrayContaining([
      { path: '/', method: 'ANY', key: true, type: 'AWS_PROXY' },
      { path: '{proxy+}', method: 'ANY', key: true, type: 'AWS_PROXY' },
      { path: 'health', method: 'GET', key: false, type: 'AWS_PROXY' },
      { path: 'health', method: 'HEAD', key: false, type: 'AWS_PROXY' },
      { path: 'health', method: 'ANY', key: false, type: 'MOCK' },
    ]));
    expect(methods).toHaveLength(5);
    for (const [, m] of resourcesOf(t, 'AWS::ApiGateway::Method')) {
      const integration = m.Properties.Integration as { Type: string; TimeoutInMillis?: number };
      if (integration.Type === 'AWS_PROXY') expect(integration.TimeoutInMillis).toBe(29000);
    }
  });

  test('one Lambda permission for the whole API', () => {
    dev().resourceCountIs('AWS::Lambda::Permission', 1);
  });

  test('prod: API key and usage plan with quota and throttling', () => {
    const t = prod();
    t.resourceCountIs('AWS::ApiGateway::ApiKey', 1);
    t.hasResourceProperties('AWS::ApiGateway::UsagePlan', {
      Quota: { Limit: 100000, Period: 'DAY' },
      Throttle: { RateLimit: 50, BurstLimit: 100 },
      ApiStages: [{ Stage: { Ref: Match.stringLikeRegexp('DeploymentStageprod') } }],
    });
    t.resourceCountIs('AWS::ApiGateway::UsagePlanKey', 1);
  });

  test('dev: no API key, no usage plan, no key required anywhere', () => {
    const t = dev();
    t.resourceCountIs('AWS::ApiGateway::ApiKey', 0);
    t.resourceCountIs('AWS::ApiGateway::UsagePlan', 0);
    for (const [, m] of resourcesOf(t, 'AWS::ApiGateway::Method')) {
      expect(m.Properties.ApiKeyRequired).toBe(false);
    }
  });

  test('Gateway Responses keep the contract\'s error shape and carry x-request-id', () => {
    const t = prod();
    t.resourceCountIs('AWS::ApiGateway::GatewayResponse', CONTRACT_RESPONSES.length);
    const expectations: [string, string | undefined, string][] = [
      ['MISSING_AUTHENTICATION_TOKEN', '404', 'not_found'],
      ['INVALID_API_KEY', '403', 'forbidden'],
      ['THROTTLED', '429', 'throttled'],
      ['QUOTA_EXCEEDED', '429', 'throttled'],
      ['REQUEST_TOO_LARGE', '413', 'payload_too_large'],
      ['INTEGRATION_TIMEOUT', '504', 'endpoint_timeout'],
      ['DEFAULT_4XX', undefined, 'bad_request'],
      ['DEFAULT_5XX', undefined, 'internal'],
    ];
    for (const [type, status, code] of expectations) {
      t.hasResourceProperties('AWS::ApiGateway::GatewayResponse', {
        ResponseType: type,
        StatusCode: status ?? Match.absent(),
        ResponseParameters: Match.objectLike({ 'gatewayresponse.header.x-request-id': 'context.requestId' }),
        ResponseTemplates: { 'application/json': Match.stringLikeRegexp(`^\\{"error":\\{"code":"${code}","message":`) },
      });
    }
    for (const [, r] of resourcesOf(t, 'AWS::ApiGateway::GatewayResponse')) {
      // Replace $context variables with a JSON string, as API Gateway does, and parse the body.
      const body = (r.Properties.ResponseTemplates as Record<string, string>)['application/json']
        .replace(/\$context\.error\.messageString/g, '"x"');
      expect(Object.keys(JSON.parse(body).error)).toEqual(['code', 'message']);
    }
  });

  test('CORS, when configured: preflight on every resource, treating bodies as text, and the header on gateway errors', () => {
    const { template: t } = synthStage(stageConfig('dev', { api: { corsAllowOrigin: 'https://app.example.com' } }));
    const preflights = resourcesOf(t, 'AWS::ApiGateway::Method').filter(([, m]) => m.Properties.HttpMethod === 'OPTIONS');
    expect(preflights).toHaveLength(3);
    // With every media type binary (the stage serves /invocations), a mock that maps a binary
    // body answers 500; as text it answers the preflight.
    for (const [, m] of preflights) {
      expect(m.Properties.Integration).toMatchObject({
        Type: 'MOCK', ContentHandling: 'CONVERT_TO_TEXT', IntegrationResponses: [{ ContentHandling: 'CONVERT_TO_TEXT' }],
      });
    }
    t.hasResourceProperties('AWS::ApiGateway::GatewayResponse', {
      ResponseType: 'DEFAULT_4XX',
      ResponseParameters: Match.objectLike({ 'gatewayresponse.header.Access-Control-Allow-Origin': "'https://app.example.com'" }),
    });
    expect(lambdaEnv(t).CORS_ALLOW_ORIGIN).toBe('https://app.example.com');
    expect(lambdaEnv(dev()).CORS_ALLOW_ORIGIN).toBeUndefined();
  });

  test('WAF, when configured: the web ACL is associated with the stage', () => {
    const arn = 'arn:aws:wafv2:eu-west-1:123456789012:regional/webacl/sagefront/abc';
    const { template: t } = synthStage(stageConfig('prod', { api: { webAclArn: arn } }));
    t.hasResourceProperties('AWS::WAFv2::WebACLAssociation', { WebACLArn: arn });
  });
});

describe('outputs', () => {
  test('dev: ApiUrl and EndpointName, no ApiKeyId', () => {
    const outputs = dev().findOutputs('*');
    expect(Object.keys(outputs).sort()).toEqual(['ApiUrl', 'EndpointName']);
  });

  test('prod: ApiUrl, EndpointName and ApiKeyId', () => {
    const t = prod();
    expect(Object.keys(t.findOutputs('*')).sort()).toEqual(['ApiKeyId', 'ApiUrl', 'EndpointName']);
    t.hasOutput('ApiKeyId', { Value: { Ref: Match.stringLikeRegexp('ApiKey') } });
    t.hasOutput('ApiUrl', { Value: { 'Fn::Join': ['', Match.arrayWith(['https://', '/', { Ref: Match.stringLikeRegexp('DeploymentStageprod') }, '/'])] } });
  });

  test('existing: EndpointName is the configured name', () => {
    existing().hasOutput('EndpointName', { Value: 'My-Mixed-Case-Endpoint' });
  });
});

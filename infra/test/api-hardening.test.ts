/**
 * The REST API's hardening (issue 17): keyless `/health` answers only `GET`/`HEAD` through the
 * function, under a method throttle of its own, and every other method with the contract's `405`
 * from API Gateway itself; in prod every other method needs the API key; the execute-api endpoint
 * negotiates TLS 1.2 or later; the binary media types follow the routes the stage serves.
 */
import { Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { ConfigError, StageConfig } from '../lib/config';
import {
  ALL_MEDIA_TYPES_BINARY, API_SECURITY_POLICY, BINARY_MEDIA_TYPES, HEALTH_MOCK_CONTENT_TYPES, InferenceApi,
} from '../lib/constructs/inference-api';
import { resourcesOf, stageConfig, synthStage, testApp } from './helpers';

type Props = Record<string, unknown>;

const cache = new Map<string, Template>();
function template(name: string, config: () => StageConfig): Template {
  if (!cache.has(name)) cache.set(name, synthStage(config()).template);
  return cache.get(name)!;
}
const dev = () => template('dev', () => stageConfig('dev'));
const prod = () => template('prod', () => stageConfig('prod'));
const prodWithCors = () => template('prod-cors', () => stageConfig('prod', { api: { corsAllowOrigin: 'https://app.example.com' } }));

/** The stage's methods with their resource path ('/' for the root). */
function methods(t: Template): { path: string; method: string; props: Props }[] {
  const paths = Object.fromEntries(resourcesOf(t, 'AWS::ApiGateway::Resource').map(([id, r]) => [id, r.Properties.PathPart as string]));
  return resourcesOf(t, 'AWS::ApiGateway::Method').map(([, m]) => {
    const ref = (m.Properties.ResourceId as { Ref?: string }).Ref;
    return { path: ref === undefined ? '/' : paths[ref], method: m.Properties.HttpMethod as string, props: m.Properties };
  });
}

function healthMethod(t: Template, method: string): Props {
  const found = methods(t).find((m) => m.path === 'health' && m.method === method);
  if (!found) throw new Error(`no ${method} /health`);
  return found.props;
}

function methodSettings(t: Template): Props[] {
  const [[, stage]] = resourcesOf(t, 'AWS::ApiGateway::Stage');
  return stage.Properties.MethodSettings as Props[];
}

describe('/health', () => {
  test.each([['dev', dev], ['prod', prod]])('%s: GET and HEAD reach the function, keyless', (_n, t) => {
    for (const method of ['GET', 'HEAD']) {
      const m = healthMethod(t(), method);
      expect(m).toMatchObject({ ApiKeyRequired: false, AuthorizationType: 'NONE', Integration: { Type: 'AWS_PROXY' } });
    }
  });

  test('every other method gets 405 from API Gateway: a keyless mock, no function behind it', () => {
    const m = healthMethod(prod(), 'ANY');
    expect(m.ApiKeyRequired).toBe(false);
    const integration = m.Integration as Props;
    expect(integration.Type).toBe('MOCK');
    expect(integration.Uri).toBeUndefined();
    expect(JSON.stringify(integration)).not.toMatch(/lambda|Function/);
    // Only a mapped request runs the mock; other content types get API Gateway's 415 instead of
    // being passed through (the body never goes anywhere).
    expect(integration.PassthroughBehavior).toBe('NEVER');
    const templates = integration.RequestTemplates as Record<string, string>;
    expect(Object.keys(templates).sort()).toEqual([...HEALTH_MOCK_CONTENT_TYPES].sort());
    for (const body of Object.values(templates)) expect(JSON.parse(body)).toEqual({ statusCode: 405 });
  });

  test('the 405 is the contract\'s: JSON error body, Allow: GET, HEAD, x-request-id, for whatever the mock returns', () => {
    const m = healthMethod(prod(), 'ANY');
    const [response, ...others] = (m.Integration as Props).IntegrationResponses as Props[];
    expect(others).toEqual([]);
    expect(response.StatusCode).toBe('405');
    expect(response.SelectionPattern).toBeUndefined(); // the default response: any mock status maps to 405
    expect(response.ResponseParameters).toEqual({
      'method.response.header.Allow': "'GET, HEAD'",
      'method.response.header.Content-Type': "'application/json'",
      'method.response.header.x-request-id': 'context.requestId',
    });
    const body = (response.ResponseTemplates as Record<string, string>)['application/json']
      .replace(/\$context\.httpMethod/g, 'POST'); // as API Gateway renders it for a POST
    expect(JSON.parse(body)).toEqual({
      error: { code: 'method_not_allowed', message: 'POST is not allowed on /health; use GET, HEAD' },
    });
    expect(m.MethodResponses).toEqual([{
      StatusCode: '405',
      ResponseParameters: {
        'method.response.header.Allow': true,
        'method.response.header.Content-Type': true,
        'method.response.header.x-request-id': true,
      },
    }]);
  });

  test('the 405 mock treats bodies as text (with */* binary a binary body cannot be mapped) and carries CORS when on', () => {
    const m = healthMethod(prodWithCors(), 'ANY');
    const integration = m.Integration as Props;
    expect(integration.ContentHandling).toBe('CONVERT_TO_TEXT');
    const [response] = integration.IntegrationResponses as Props[];
    expect(response.ContentHandling).toBe('CONVERT_TO_TEXT');
    expect(response.ResponseParameters).toMatchObject({
      'method.response.header.Access-Control-Allow-Origin': "'https://app.example.com'",
    });
  });

  test.each([['dev', dev], ['prod', prod]])('%s: GET and HEAD have their own method throttle, 5 rps, burst 10', (_n, t) => {
    const health = methodSettings(t()).filter((s) => s.ResourcePath === '/~1health');
    expect(health).toEqual([
      expect.objectContaining({ HttpMethod: 'GET', ThrottlingRateLimit: 5, ThrottlingBurstLimit: 10 }),
      expect.objectContaining({ HttpMethod: 'HEAD', ThrottlingRateLimit: 5, ThrottlingBurstLimit: 10 }),
    ]);
    // The stage-wide throttle is still there for every other method.
    expect(methodSettings(t())).toEqual(expect.arrayContaining([expect.objectContaining({ HttpMethod: '*', ResourcePath: '/*' })]));
  });

  test('the throttle is configurable in cdk.json, and never above the stage\'s', () => {
    const { template: t } = synthStage(stageConfig('prod', { api: { healthRateLimit: 2, healthBurstLimit: 3 } }));
    const health = methodSettings(t).filter((s) => s.ResourcePath === '/~1health');
    expect(health.map((s) => [s.HttpMethod, s.ThrottlingRateLimit, s.ThrottlingBurstLimit])).toEqual([['GET', 2, 3], ['HEAD', 2, 3]]);
    // A stage slower than the default: /health gets the stage's limits, not more.
    expect(stageConfig('dev', { api: { throttleRateLimit: 2, throttleBurstLimit: 4 } }).api.healthThrottle)
      .toEqual({ rateLimit: 2, burstLimit: 4 });
    expect(() => stageConfig('dev', { api: { healthRateLimit: 6 } }))
      .toThrow(/\(api\.healthRateLimit\): api\.healthRateLimit \(6\) must not exceed api\.throttleRateLimit \(5\)/);
    expect(() => stageConfig('dev', { api: { healthBurstLimit: 11 } })).toThrow(ConfigError);
  });

  test('InferenceApi refuses a /health throttle above the stage\'s', () => {
    const stack = new Stack(testApp(), 'S');
    const handler = new lambda.Function(stack, 'F', {
      runtime: lambda.Runtime.NODEJS_20_X, handler: 'index.handler', code: lambda.Code.fromInline('exports.handler = 1'), timeout: Duration.seconds(5),
    });
    expect(() => new InferenceApi(stack, 'Api', {
      handler, stageName: 's', integrationTimeout: Duration.seconds(10), throttleRateLimit: 3, throttleBurstLimit: 5,
      healthThrottle: { rateLimit: 4, burstLimit: 5 },
    })).toThrow(/healthThrottle \(4\/s, burst 5\) must not exceed the stage's throttle \(3\/s, burst 5\)/);
  });
});

describe('API keys', () => {
  test('prod: every method needs the key but /health (GET, HEAD, the 405 mock) and the CORS preflights', () => {
    const all = methods(prodWithCors());
    const exempt = (m: { path: string; method: string }) => m.method === 'OPTIONS' || m.path === 'health';
    expect(all.filter(exempt).map((m) => `${m.method} ${m.path}`).sort())
      .toEqual(['ANY health', 'GET health', 'HEAD health', 'OPTIONS /', 'OPTIONS health', 'OPTIONS {proxy+}']);
    const keyed = all.filter((m) => !exempt(m));
    expect(keyed.map((m) => `${m.method} ${m.path}`).sort()).toEqual(['ANY /', 'ANY {proxy+}']);
    for (const m of keyed) expect(m.props.ApiKeyRequired).toBe(true);
    for (const m of all.filter(exempt)) expect(m.props.ApiKeyRequired).not.toBe(true);
  });
});

describe('TLS', () => {
  test.each([['dev', dev], ['prod', prod]])('%s: the execute-api endpoint negotiates TLS 1.2 or later, strictly', (_n, t) => {
    t().hasResourceProperties('AWS::ApiGateway::RestApi', {
      SecurityPolicy: 'SecurityPolicy_TLS13_1_2_PFS_PQ_2025_09',
      EndpointAccessMode: 'STRICT',
    });
    // An enhanced policy (not the legacy TLS_1_0 a REST API gets by default) whose floor is TLS 1.2.
    expect(API_SECURITY_POLICY).toMatch(/^SecurityPolicy_TLS13_1_[23]_/);
  });
});

describe('binary media types follow the routes', () => {
  test.each([['dev', dev], ['prod', prod]])('%s serves /invocations (all routes by default): every type is binary', (_n, t) => {
    t().hasResourceProperties('AWS::ApiGateway::RestApi', { BinaryMediaTypes: ALL_MEDIA_TYPES_BINARY });
    expect(ALL_MEDIA_TYPES_BINARY).toEqual(['*/*']);
  });

  test('a stage of image routes only keeps the image types', () => {
    const { template: t } = synthStage(stageConfig('dev', { api: { routes: ['predictions', 'resize'] } }));
    t.hasResourceProperties('AWS::ApiGateway::RestApi', { BinaryMediaTypes: BINARY_MEDIA_TYPES });
    expect(BINARY_MEDIA_TYPES).toEqual(['image/*', 'application/x-image', 'application/octet-stream']);
  });

  test('a stage of /invocations only: every type is binary', () => {
    const { template: t } = synthStage(stageConfig('dev', { api: { routes: ['invocations'] } }));
    t.hasResourceProperties('AWS::ApiGateway::RestApi', { BinaryMediaTypes: ['*/*'] });
  });
});

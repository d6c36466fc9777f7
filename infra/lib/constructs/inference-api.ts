/**
 * The public REST API in front of the function: routes, binary media types, stage throttling,
 * API key and usage plan, JSON access logs, X-Ray, optional CORS and WAF, a TLS 1.2+ security
 * policy, and Gateway Responses that keep API Gateway's own errors in the contract's
 * `{"error": {"code", "message"}}` shape.
 *
 * `/health` is the one keyless route: `GET` and `HEAD` reach the function under a small method
 * throttle of their own; every other method is answered `405` by API Gateway itself (a mock
 * integration), so an anonymous caller can neither send a body to the function nor use up the
 * throttle that keyed clients share on the function's routes.
 */
import { Duration, Validations } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as wafv2 from 'aws-cdk-lib/aws-wafv2';
import { Construct } from 'constructs';
import { API_DEFAULTS, RouteName } from '../config/schema';
import { HEALTH_THROTTLE_DEFAULTS } from '../config/stage';

/** Media types API Gateway passes to the function as base64 (and returns as binary): the image routes'. */
export const BINARY_MEDIA_TYPES = ['image/*', 'application/x-image', 'application/octet-stream'];

/**
 * Every media type binary: `/invocations` takes and returns any body, which must pass untouched
 * in both directions. JSON bodies then reach the function base64-encoded too (a third larger).
 */
export const ALL_MEDIA_TYPES_BINARY = ['*/*'];

/** The binary media types the routes a stage serves need (`undefined`: all routes). */
export function binaryMediaTypesFor(routes?: readonly RouteName[]): string[] {
  return routes === undefined || routes.includes('invocations') ? ALL_MEDIA_TYPES_BINARY : BINARY_MEDIA_TYPES;
}

/**
 * The TLS security policy of the API's `execute-api` endpoint: TLS 1.3 and TLS 1.2, the latter
 * with forward-secret AEAD ciphers only, and post-quantum hybrid key exchange where the client
 * offers it. (A REST API created without one gets the legacy `TLS_1_0`.) Source: API Gateway
 * Developer Guide, "Supported security policies", Regional and private APIs.
 */
export const API_SECURITY_POLICY = 'SecurityPolicy_TLS13_1_2_PFS_PQ_2025_09';

/** Methods of `/health` that reach the function; any other is answered `405` by API Gateway. */
export const HEALTH_METHODS = ['GET', 'HEAD'] as const;

/**
 * Request content types the `405` mock of `/health` maps (a mock integration only runs through
 * a request template, and API Gateway selects templates by exact media type). A request with
 * another `Content-Type` gets `415 unsupported_media_type` from API Gateway instead, still
 * without reaching the function.
 */
export const HEALTH_MOCK_CONTENT_TYPES = [
  'application/json', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data', 'application/octet-stream',
  'application/x-image', 'image/jpeg', 'image/png', 'image/webp', 'image/gif', 'image/bmp', 'text/csv', 'application/xml',
] as const;

/** Usage plan quota of {@link InferenceApiProps.apiKey}. */
export interface ApiKeyOptions {
  /** Requests per period per key. */
  readonly quotaLimit: number;
  readonly quotaPeriod: apigw.Period;
}

/** Properties of {@link InferenceApi}. */
export interface InferenceApiProps {
  /** Function (or alias) behind every route. */
  readonly handler: lambda.IFunction;
  /** API Gateway stage name; part of the URL. */
  readonly stageName: string;
  /** Integration timeout; at most 29 s and longer than the function's timeout. */
  readonly integrationTimeout: Duration;
  /** Steady-state requests per second for the stage. @default `api.throttleRateLimit`'s default in the settings schema */
  readonly throttleRateLimit?: number;
  /** Burst capacity for the stage. @default `api.throttleBurstLimit`'s default in the settings schema */
  readonly throttleBurstLimit?: number;
  /**
   * Method throttle of keyless `GET`/`HEAD /health`.
   * @default 5 requests per second, burst 10, at most the stage's
   */
  readonly healthThrottle?: { readonly rateLimit: number; readonly burstLimit: number };
  /**
   * The function's routes the stage serves; with `invocations` every media type is binary
   * (`*\/*`), otherwise the image types are. @default all routes
   */
  readonly routes?: readonly RouteName[];
  /** TLS security policy of the `execute-api` endpoint. @default {@link API_SECURITY_POLICY} */
  readonly securityPolicy?: string;
  /**
   * Endpoint access mode, required with an enhanced security policy: `STRICT` (what AWS
   * recommends for production) or `BASIC` (meant for migrations, e.g. of a custom domain).
   * @default 'STRICT'
   */
  readonly endpointAccessMode?: 'STRICT' | 'BASIC';
  /**
   * When set, every route except `GET /health` needs an `x-api-key`, and the stack creates a key
   * and a usage plan with this quota. @default no API key
   */
  readonly apiKey?: ApiKeyOptions;
  /** @default `api.logRetentionDays`'s default in the settings schema */
  readonly accessLogRetention?: logs.RetentionDays;
  /** `*` or one origin allowed to call the API from a browser. @default CORS off */
  readonly corsAllowOrigin?: string;
  /** A regional WAFv2 web ACL to associate with the stage. @default none */
  readonly webAclArn?: string;
  /** Name of the REST API (the `ApiName` dimension of its metrics). @default `sagefront-<stageName>` */
  readonly restApiName?: string;
}

/** One API Gateway error re-shaped into the contract. */
interface ContractResponse {
  readonly type: apigw.ResponseType;
  /** @default keep API Gateway's status code */
  readonly statusCode?: string;
  readonly code: string;
  /** JSON string literal, or a `$context` variable that renders as one. */
  readonly message: string;
}

/**
 * API Gateway's own errors, in the contract's shape. Statuses follow DESIGN.md: an unknown route
 * (API Gateway's 403 "Missing Authentication Token") is a 404, a missing or wrong key a 403.
 */
export const CONTRACT_RESPONSES: readonly ContractResponse[] = [
  { type: apigw.ResponseType.MISSING_AUTHENTICATION_TOKEN, statusCode: '404', code: 'not_found', message: '"No route matches this method and path."' },
  { type: apigw.ResponseType.RESOURCE_NOT_FOUND, statusCode: '404', code: 'not_found', message: '"No route matches this method and path."' },
  { type: apigw.ResponseType.INVALID_API_KEY, statusCode: '403', code: 'forbidden', message: '"A valid API key is required in the x-api-key header."' },
  { type: apigw.ResponseType.ACCESS_DENIED, statusCode: '403', code: 'forbidden', message: '"Access denied."' },
  { type: apigw.ResponseType.WAF_FILTERED, statusCode: '403', code: 'forbidden', message: '"Request blocked by the firewall."' },
  { type: apigw.ResponseType.THROTTLED, statusCode: '429', code: 'throttled', message: '"Too many requests; retry later."' },
  { type: apigw.ResponseType.QUOTA_EXCEEDED, statusCode: '429', code: 'throttled', message: '"The API key\'s request quota is used up."' },
  { type: apigw.ResponseType.REQUEST_TOO_LARGE, statusCode: '413', code: 'payload_too_large', message: '"The request body is too large."' },
  { type: apigw.ResponseType.UNSUPPORTED_MEDIA_TYPE, statusCode: '415', code: 'unsupported_media_type', message: '"Unsupported Content-Type."' },
  { type: apigw.ResponseType.INTEGRATION_TIMEOUT, statusCode: '504', code: 'endpoint_timeout', message: '"The model did not answer in time."' },
  { type: apigw.ResponseType.DEFAULT_4XX, code: 'bad_request', message: '$context.error.messageString' },
  // Generic on purpose: 5xx details stay in the logs.
  { type: apigw.ResponseType.DEFAULT_5XX, code: 'internal', message: '"Internal server error."' },
];

/** The REST API, its stage, and (when keys are on) the key and usage plan. */
export class InferenceApi extends Construct {
  readonly api: apigw.RestApi;
  readonly accessLogGroup: logs.LogGroup;
  /** The API's name: a literal, so alarms can name it without depending on the API's resources. */
  readonly restApiName: string;
  /** The stage name, likewise a literal. */
  readonly stageName: string;
  /** Present when API keys are required. */
  readonly apiKey?: apigw.IApiKey;
  readonly usagePlan?: apigw.UsagePlan;

  constructor(scope: Construct, id: string, props: InferenceApiProps) {
    super(scope, id);
    if (props.integrationTimeout.toMilliseconds() > 29_000 || props.integrationTimeout.toMilliseconds() < 50) {
      throw new Error(`integrationTimeout must be 50 ms to 29 s (got ${props.integrationTimeout.toMilliseconds()} ms)`);
    }
    const target = props.handler instanceof lambda.Alias ? props.handler.version.lambda : props.handler;
    const handlerTimeout = target instanceof lambda.Function ? target.timeout : undefined;
    if (handlerTimeout && handlerTimeout.toMilliseconds() >= props.integrationTimeout.toMilliseconds()) {
      throw new Error(`the function's timeout (${handlerTimeout.toSeconds()} s) must be shorter than the integration `
        + `timeout (${props.integrationTimeout.toMilliseconds()} ms), so the function's own 504 reaches the client`);
    }

    this.accessLogGroup = new logs.LogGroup(this, 'AccessLogs', {
      retention: props.accessLogRetention ?? (API_DEFAULTS.logRetentionDays as logs.RetentionDays),
    });
    const keyRequired = props.apiKey !== undefined;
    const cors = props.corsAllowOrigin;
    const throttle = {
      rateLimit: props.throttleRateLimit ?? API_DEFAULTS.throttleRateLimit,
      burstLimit: props.throttleBurstLimit ?? API_DEFAULTS.throttleBurstLimit,
    };
    const healthThrottle = props.healthThrottle ?? {
      rateLimit: Math.min(HEALTH_THROTTLE_DEFAULTS.rateLimit, throttle.rateLimit),
      burstLimit: Math.min(HEALTH_THROTTLE_DEFAULTS.burstLimit, throttle.burstLimit),
    };
    if (healthThrottle.rateLimit > throttle.rateLimit || healthThrottle.burstLimit > throttle.burstLimit) {
      throw new Error(`healthThrottle (${healthThrottle.rateLimit}/s, burst ${healthThrottle.burstLimit}) must not exceed the `
        + `stage's throttle (${throttle.rateLimit}/s, burst ${throttle.burstLimit})`);
    }

    this.restApiName = props.restApiName ?? `sagefront-${props.stageName}`;
    this.stageName = props.stageName;
    this.api = new apigw.RestApi(this, 'Api', {
      restApiName: this.restApiName,
      description: 'sagefront: a public API in front of a SageMaker endpoint',
      endpointTypes: [apigw.EndpointType.REGIONAL],
      binaryMediaTypes: binaryMediaTypesFor(props.routes),
      cloudWatchRole: false,
      deployOptions: {
        stageName: props.stageName,
        throttlingRateLimit: throttle.rateLimit,
        throttlingBurstLimit: throttle.burstLimit,
        // Keyless /health gets a bucket of its own, so anonymous callers cannot use up the
        // stage's, which keyed clients share.
        methodOptions: Object.fromEntries(HEALTH_METHODS.map((m) => [`/health/${m}`, {
          throttlingRateLimit: healthThrottle.rateLimit,
          throttlingBurstLimit: healthThrottle.burstLimit,
        }])),
        tracingEnabled: true,
        accessLogDestination: new apigw.LogGroupLogDestination(this.accessLogGroup),
        accessLogFormat: apigw.AccessLogFormat.custom(JSON.stringify({
          requestId: apigw.AccessLogField.contextRequestId(),
          time: apigw.AccessLogField.contextRequestTime(),
          ip: apigw.AccessLogField.contextIdentitySourceIp(),
          method: apigw.AccessLogField.contextHttpMethod(),
          path: apigw.AccessLogField.contextPath(),
          resourcePath: apigw.AccessLogField.contextResourcePath(),
          status: apigw.AccessLogField.contextStatus(),
          responseLength: apigw.AccessLogField.contextResponseLength(),
          responseLatency: apigw.AccessLogField.contextResponseLatency(),
          integrationLatency: apigw.AccessLogField.contextIntegrationLatency(),
          integrationStatus: apigw.AccessLogField.contextIntegrationStatus(),
          // The Lambda's request id: the function logs it and sends it as `x-request-id`.
          integrationRequestId: '$context.integration.requestId',
          errorType: apigw.AccessLogField.contextErrorResponseType(),
          error: apigw.AccessLogField.contextErrorMessage(),
          apiKeyId: apigw.AccessLogField.contextIdentityApiKeyId(),
          userAgent: apigw.AccessLogField.contextIdentityUserAgent(),
          xrayTraceId: apigw.AccessLogField.contextXrayTraceId(),
        })),
      },
      defaultCorsPreflightOptions: cors === undefined ? undefined : {
        allowOrigins: [cors],
        allowMethods: ['GET', 'POST', 'OPTIONS'],
        allowHeaders: ['Content-Type', 'Accept', 'X-Api-Key'],
        maxAge: Duration.hours(1),
      },
    });
    // RestApi adds an `Endpoint` output of its own; the stack exports the URL as `ApiUrl`.
    this.api.node.tryRemoveChild('Endpoint');

    // TLS 1.2 or later on the execute-api endpoint. The L2 RestApi has no property for it yet;
    // CloudFormation's AWS::ApiGateway::RestApi does (SecurityPolicy, EndpointAccessMode).
    const cfnApi = this.api.node.defaultChild as apigw.CfnRestApi;
    cfnApi.securityPolicy = props.securityPolicy ?? API_SECURITY_POLICY;
    cfnApi.endpointAccessMode = props.endpointAccessMode ?? 'STRICT';

    // The function routes by path itself (404/405 in the contract's shape), so the API forwards
    // everything: `/` and `/{proxy+}` need a key when keys are on; `/health` never does.
    const integration = new apigw.LambdaIntegration(props.handler, {
      proxy: true,
      timeout: props.integrationTimeout,
      // One resource-policy statement for the whole API instead of one per method.
      scopePermissionToMethod: false,
    });
    this.api.root.addMethod('ANY', integration, { apiKeyRequired: keyRequired });
    this.api.root.addResource('{proxy+}').addMethod('ANY', integration, { apiKeyRequired: keyRequired });
    const health = this.api.root.addResource('health');
    for (const method of HEALTH_METHODS) health.addMethod(method, integration, { apiKeyRequired: false });
    // API Gateway prefers an explicit method over ANY: this answers every other method.
    health.addMethod('ANY', healthMethodNotAllowed(cors), {
      apiKeyRequired: false,
      methodResponses: [{
        statusCode: '405',
        responseParameters: Object.fromEntries(Object.keys(healthNotAllowedHeaders(cors)).map((h) => [h, true])),
      }],
    });
    // Mock integrations (the 405 above, CORS preflights) treat bodies as text: with `*/*` binary,
    // API Gateway cannot apply a mapping template to a binary body and answers 500. The L2 CORS
    // options have no content handling, so the preflights' is set on their CloudFormation method.
    for (const method of this.api.methods.filter((m) => m.httpMethod === 'OPTIONS')) {
      const cfn = method.node.defaultChild as apigw.CfnMethod;
      cfn.addPropertyOverride('Integration.ContentHandling', 'CONVERT_TO_TEXT');
      cfn.addPropertyOverride('Integration.IntegrationResponses.0.ContentHandling', 'CONVERT_TO_TEXT');
    }

    for (const r of CONTRACT_RESPONSES) {
      this.api.addGatewayResponse(`Response${pascal(r.type.responseType)}`, {
        type: r.type,
        statusCode: r.statusCode,
        responseHeaders: {
          'x-request-id': 'context.requestId',
          'Content-Type': "'application/json'",
          ...(cors === undefined ? {} : { 'Access-Control-Allow-Origin': `'${cors}'` }),
        },
        templates: {
          'application/json': `{"error":{"code":"${r.code}","message":${r.message}}}`,
        },
      });
    }

    if (props.apiKey) {
      this.apiKey = this.api.addApiKey('ApiKey', {
        description: `sagefront ${props.stageName} API key`,
      });
      this.usagePlan = this.api.addUsagePlan('UsagePlan', {
        description: `sagefront ${props.stageName}: quota and per-key throttling`,
        quota: { limit: props.apiKey.quotaLimit, period: props.apiKey.quotaPeriod },
        throttle,
        apiStages: [{ api: this.api, stage: this.api.deploymentStage }],
      });
      this.usagePlan.addApiKey(this.apiKey);
    }

    if (props.webAclArn !== undefined) {
      new wafv2.CfnWebACLAssociation(this, 'WebAcl', {
        resourceArn: this.api.deploymentStage.stageArn,
        webAclArn: props.webAclArn,
      });
    } else {
      Validations.of(this.api).acknowledge({
        id: 'AwsSolutions-APIG3',
        reason: 'WAF is opt-in per stage (api.webAclArn in cdk.json): a web ACL costs a monthly fee per '
          + 'stage, and stage throttling plus the usage plan already bound request rates.',
      });
    }

    Validations.of(this.api).acknowledge({
      id: 'AwsSolutions-APIG2',
      reason: 'Bodies are images or JSON that the function validates itself and rejects with the '
        + 'contract\'s error codes; a gateway validator would answer in a different shape.',
    });
    Validations.of(this.api).acknowledge({
      id: 'AwsSolutions-APIG6',
      reason: 'Execution logging needs the account-wide API Gateway CloudWatch role '
        + '(AWS::ApiGateway::Account), which one stack per stage must not own or overwrite; '
        + 'JSON access logs and X-Ray tracing are on for every request.',
    });
    for (const ruleId of ['AwsSolutions-APIG4', 'AwsSolutions-COG4']) {
      Validations.of(this.api).acknowledge({
        id: ruleId,
        reason: keyRequired
          ? 'A public inference API for machine clients: access is controlled with API keys and a '
            + 'usage plan (quota and throttling), not end-user identities; /health is open by design.'
          : 'API keys are off for this (development) stage by configuration; stage throttling bounds '
            + 'the cost of anonymous use. Production stages require API keys.',
      });
    }
  }

  /** Invoke URL of the stage, ending in `/`. */
  get url(): string {
    return this.api.url;
  }
}

/** Headers of `/health`'s `405`, as integration-response mappings. */
function healthNotAllowedHeaders(cors: string | undefined): Record<string, string> {
  return {
    'method.response.header.Allow': `'${HEALTH_METHODS.join(', ')}'`,
    'method.response.header.Content-Type': "'application/json'",
    'method.response.header.x-request-id': 'context.requestId',
    ...(cors === undefined ? {} : { 'method.response.header.Access-Control-Allow-Origin': `'${cors}'` }),
  };
}

/**
 * The contract's `405 method_not_allowed` for `/health`, from API Gateway itself: no function
 * call, no body forwarded. The one integration response has no selection pattern, so it answers
 * whatever the mock returns; the message is the function's own wording.
 */
function healthMethodNotAllowed(cors: string | undefined): apigw.MockIntegration {
  const allow = HEALTH_METHODS.join(', ');
  return new apigw.MockIntegration({
    passthroughBehavior: apigw.PassthroughBehavior.NEVER,
    contentHandling: apigw.ContentHandling.CONVERT_TO_TEXT,
    requestTemplates: Object.fromEntries(HEALTH_MOCK_CONTENT_TYPES.map((t) => [t, '{"statusCode": 405}'])),
    integrationResponses: [{
      statusCode: '405',
      contentHandling: apigw.ContentHandling.CONVERT_TO_TEXT,
      responseParameters: healthNotAllowedHeaders(cors),
      responseTemplates: {
        'application/json': `{"error":{"code":"method_not_allowed","message":"$context.httpMethod is not allowed on /health; use ${allow}"}}`,
      },
    }],
  });
}

function pascal(s: string): string {
  return s.toLowerCase().split('_').map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join('');
}

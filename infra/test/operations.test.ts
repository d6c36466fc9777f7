/**
 * Operations: every alarm (metric, statistic, threshold from cdk.json), the error-code metric
 * filters, the alias the API invokes, the CodeDeploy group, the SageMaker deployment guardrails,
 * the alarm topic and the dashboard; and that dev stays cheap.
 */
import { Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { parseStage, StageConfig } from '../lib/config';
import { ModelImage, SageMakerEndpoint } from '../lib/constructs/model-endpoint';
import { ERROR_CODES, FUNCTION_ROLLBACK_ALARMS, MODEL_ROLLBACK_ALARMS } from '../lib/constructs/operations';
import { merge, rawStage, resourcesOf, stageConfig, synthStage, testApp } from './helpers';

type Props = Record<string, unknown>;

const cache = new Map<string, Template>();
function template(name: string, config: () => StageConfig): Template {
  if (!cache.has(name)) cache.set(name, synthStage(config()).template);
  return cache.get(name)!;
}
const dev = () => template('dev', () => stageConfig('dev'));
const prod = () => template('prod', () => stageConfig('prod'));

function alarms(t: Template): Map<string, Props> {
  return new Map(resourcesOf(t, 'AWS::CloudWatch::Alarm').map(([, r]) => [r.Properties.AlarmName as string, r.Properties]));
}
function alarm(t: Template, name: string): Props {
  const a = alarms(t).get(name);
  if (!a) throw new Error(`no alarm ${name}; have ${[...alarms(t).keys()].join(', ')}`);
  return a;
}
function logicalIdOfAlarm(t: Template, name: string): string {
  const found = resourcesOf(t, 'AWS::CloudWatch::Alarm').find(([, r]) => r.Properties.AlarmName === name);
  return found![0];
}

describe('alarms: metric, statistic and threshold from cdk.json', () => {
  const stages: [string, () => Template, () => StageConfig][] = [
    ['dev', dev, () => stageConfig('dev')],
    ['prod', prod, () => stageConfig('prod')],
  ];

  describe.each(stages)('%s', (stage, t, config) => {
    const c = () => config().alarms;
    const p = `sagefront-${stage}`;
    const dOfE = () => ({ EvaluationPeriods: c().evaluationPeriods, DatapointsToAlarm: c().datapointsToAlarm });
    const missingOk = { TreatMissingData: 'notBreaching' };

    test('API 5xx rate: 5XXError Average of the stage, as a fraction', () => {
      expect(alarm(t(), `${p}-api-5xx-rate`)).toMatchObject({
        Namespace: 'AWS/ApiGateway', MetricName: '5XXError', Statistic: 'Average', Period: 60,
        Threshold: c().api5xxPercent / 100, ComparisonOperator: 'GreaterThanThreshold', ...dOfE(), ...missingOk,
        // Literals: a reference to the stage would close a cycle through the alias's update policy.
        Dimensions: [{ Name: 'ApiName', Value: `sagefront-${stage}` }, { Name: 'Stage', Value: stage }],
      });
    });

    test('API latency: Latency p99 in ms', () => {
      expect(alarm(t(), `${p}-api-latency-p99`)).toMatchObject({
        Namespace: 'AWS/ApiGateway', MetricName: 'Latency', ExtendedStatistic: 'p99', Threshold: c().apiLatencyP99Ms, ...dOfE(),
      });
    });

    test('function errors, throttles and duration on the alias', () => {
      const aliasDim = { Name: 'Resource', Value: { 'Fn::Join': ['', [expect.anything(), ':live']] } };
      expect(alarm(t(), `${p}-function-errors`)).toMatchObject({
        Namespace: 'AWS/Lambda', MetricName: 'Errors', Statistic: 'Sum', Threshold: c().functionErrors,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold', EvaluationPeriods: 1, DatapointsToAlarm: 1,
        Dimensions: expect.arrayContaining([aliasDim]),
      });
      expect(alarm(t(), `${p}-function-throttles`)).toMatchObject({
        MetricName: 'Throttles', Statistic: 'Sum', Threshold: c().functionThrottles, Dimensions: expect.arrayContaining([aliasDim]),
      });
      const timeoutMs = config().timeouts.functionSeconds * 1000;
      expect(alarm(t(), `${p}-function-duration`)).toMatchObject({
        MetricName: 'Duration', ExtendedStatistic: 'p99', Threshold: Math.floor(timeoutMs * c().functionDurationPercent / 100),
      });
    });

    test.each([...ERROR_CODES])('error code %s: its own metric from the function log, Sum per minute', (code) => {
      expect(alarm(t(), `${p}-code-${code}`)).toMatchObject({
        Namespace: `sagefront/${stage}`, MetricName: code, Statistic: 'Sum', Period: 60,
        Threshold: c().errorCodeCount, ComparisonOperator: 'GreaterThanOrEqualToThreshold', ...dOfE(), ...missingOk,
      });
    });

    test('SageMaker: Invocation5XXErrors, ModelLatency p99 (µs), invocations per hour', () => {
      const dims = [
        { Name: 'EndpointName', Value: { 'Fn::GetAtt': [Match.stringLikeRegexp('^ModelEndpoint'), 'EndpointName'] } },
        { Name: 'VariantName', Value: 'AllTraffic' },
      ];
      const endpointDims = expect.arrayContaining([expect.objectContaining({ Name: 'EndpointName' }), dims[1]]);
      expect(alarm(t(), `${p}-model-5xx`)).toMatchObject({
        Namespace: 'AWS/SageMaker', MetricName: 'Invocation5XXErrors', Statistic: 'Sum', Threshold: c().model5xx, Dimensions: endpointDims,
      });
      expect(alarm(t(), `${p}-model-latency-p99`)).toMatchObject({
        Namespace: 'AWS/SageMaker', MetricName: 'ModelLatency', ExtendedStatistic: 'p99', Threshold: c().modelLatencyP99Ms * 1000,
      });
      expect(alarm(t(), `${p}-model-invocations`)).toMatchObject({
        Namespace: 'AWS/SageMaker', MetricName: 'Invocations', Statistic: 'Sum', Period: 3600,
        Threshold: c().invocationsPerHour, EvaluationPeriods: 1,
      });
      t().hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'Invocation5XXErrors', Dimensions: Match.arrayWith([dims[1]]) });
    });
  });

  test('cdk.json thresholds reach the template (prod overrides dev\'s)', () => {
    expect(rawStage('prod').alarms).toMatchObject({ api5xxPercent: 2, modelLatencyP99Ms: 2000 });
    expect(alarm(prod(), 'sagefront-prod-api-5xx-rate').Threshold).toBe(0.02);
    expect(alarm(dev(), 'sagefront-dev-api-5xx-rate').Threshold).toBe(0.1);
    expect(alarm(prod(), 'sagefront-prod-model-latency-p99').Threshold).toBe(2_000_000);
  });

  test('the cost alarm defaults to 3 × the quota\'s hourly average', () => {
    // prod: 100,000 a day; dev: 1,000 a day.
    expect(alarm(prod(), 'sagefront-prod-model-invocations').Threshold).toBe(12_500);
    expect(alarm(dev(), 'sagefront-dev-model-invocations').Threshold).toBe(125);
    const t = synthStage(stageConfig('prod', { alarms: { invocationsPerHour: 777 } })).template;
    expect(alarm(t, 'sagefront-prod-model-invocations').Threshold).toBe(777);
  });

  test('ModelSetupTime (cold starts) only for the serverless variant', () => {
    expect(alarm(dev(), 'sagefront-dev-model-setup-time')).toMatchObject({
      Namespace: 'AWS/SageMaker', MetricName: 'ModelSetupTime', Statistic: 'Maximum',
      Threshold: stageConfig('dev').alarms.modelSetupTimeMs * 1000,
    });
    expect(alarms(prod()).has('sagefront-prod-model-setup-time')).toBe(false);
  });

  test('exact alarm sets: 15 in dev (serverless), 14 in prod', () => {
    const common = ['api-5xx-rate', 'api-latency-p99', 'function-errors', 'function-throttles', 'function-duration',
      ...ERROR_CODES.map((c) => `code-${c}`), 'model-5xx', 'model-latency-p99', 'model-invocations'];
    expect([...alarms(prod()).keys()].sort()).toEqual(common.map((k) => `sagefront-prod-${k}`).sort());
    expect([...alarms(dev()).keys()].sort()).toEqual([...common, 'model-setup-time'].map((k) => `sagefront-dev-${k}`).sort());
  });

  test('an existing endpoint: no SageMaker alarms (its variants are unknown), the rest stays', () => {
    const t = synthStage(stageConfig('dev', { model: { source: 'existing', endpointName: 'Ep', variant: undefined } })).template;
    const names = [...alarms(t).keys()];
    expect(names.some((n) => n.includes('model-'))).toBe(false);
    expect(names).toContain('sagefront-dev-code-model_error');
  });

  test('no alarm actions without a topic', () => {
    for (const a of alarms(dev()).values()) expect(a.AlarmActions).toBeUndefined();
  });
});

describe('error codes from the structured log', () => {
  test.each([...ERROR_CODES])('%s: a metric filter on the function log group, fields nested under "fields"', (code) => {
    prod().hasResourceProperties('AWS::Logs::MetricFilter', {
      LogGroupName: { Ref: Match.stringLikeRegexp('^FunctionLogGroup') },
      FilterPattern: `{ ($.fields.message = "request") && ($.fields.code = "${code}") }`,
      MetricTransformations: [{ MetricNamespace: 'sagefront/prod', MetricName: code, MetricValue: '1', DefaultValue: Match.absent() }],
    });
  });

  test('both model_error and endpoint_timeout are counted separately', () => {
    const names = resourcesOf(prod(), 'AWS::Logs::MetricFilter')
      .map(([, r]) => (r.Properties.MetricTransformations as { MetricName: string }[])[0].MetricName);
    expect(names).toEqual(expect.arrayContaining(['model_error', 'endpoint_timeout', 'bad_model_response', 'endpoint_unavailable', 'throttled', 'internal']));
  });
});

describe('the API invokes the alias', () => {
  test.each([['dev', dev], ['prod', prod]])('%s: alias "live" on the current version; integrations and permission target it', (_s, t) => {
    t().hasResourceProperties('AWS::Lambda::Alias', {
      Name: 'live',
      FunctionName: { Ref: Match.stringLikeRegexp('^Function') },
      FunctionVersion: { 'Fn::GetAtt': [Match.stringLikeRegexp('^FunctionCurrentVersion'), 'Version'] },
    });
    const aliasId = resourcesOf(t(), 'AWS::Lambda::Alias')[0][0];
    // Every method that reaches the function (all but /health's 405 mock).
    const methods = resourcesOf(t(), 'AWS::ApiGateway::Method')
      .filter(([, r]) => (r.Properties.Integration as Props).Type === 'AWS_PROXY');
    expect(methods.map(([, r]) => r.Properties.HttpMethod).sort()).toEqual(['ANY', 'ANY', 'GET', 'HEAD']);
    for (const [, m] of methods) {
      expect(JSON.stringify((m.Properties.Integration as Props).Uri)).toContain(`{"Ref":"${aliasId}"}`);
    }
    const perms = resourcesOf(t(), 'AWS::Lambda::Permission');
    expect(perms.length).toBe(1);
    expect(perms[0][1].Properties.FunctionName).toEqual({ Ref: aliasId });
  });
});

/** Logical ids a resource refers to: Ref, GetAtt, Sub, DependsOn, and its UpdatePolicy. */
function references(resource: Props): Set<string> {
  const out = new Set<string>([resource.DependsOn ?? []].flat() as string[]);
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) { v.forEach(walk); return; }
    if (v === null || typeof v !== 'object') return;
    for (const [k, x] of Object.entries(v)) {
      if (k === 'Ref' && typeof x === 'string') out.add(x);
      else if (k === 'Fn::GetAtt') out.add(Array.isArray(x) ? x[0] : String(x).split('.')[0]);
      else walk(x);
    }
  };
  walk(resource.Properties);
  walk(resource.UpdatePolicy);
  return out;
}

/** The first dependency cycle among the template's resources, or undefined. */
function findCycle(t: Template): string[] | undefined {
  const resources = t.toJSON().Resources as Record<string, Props>;
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (id: string): string[] | undefined => {
    if (state.get(id) === 'done') return undefined;
    if (state.get(id) === 'open') return [...stack.slice(stack.indexOf(id)), id];
    state.set(id, 'open');
    stack.push(id);
    for (const dep of references(resources[id])) {
      if (dep in resources) {
        const cycle = visit(dep);
        if (cycle) return cycle;
      }
    }
    stack.pop();
    state.set(id, 'done');
    return undefined;
  };
  for (const id of Object.keys(resources)) {
    const cycle = visit(id);
    if (cycle) return cycle;
  }
  return undefined;
}

describe('no dependency cycles (alias ← update policy ← deployment group ← alarms ← API ← alias)', () => {
  test.each([['dev', dev], ['prod', prod]])('%s', (_s, t) => {
    expect(findCycle(t())).toBeUndefined();
  });

  test('the detector finds a cycle', () => {
    const t = Template.fromJSON({ Resources: { A: { Type: 'X', Properties: { p: { Ref: 'B' } } }, B: { Type: 'X', UpdatePolicy: { u: { 'Fn::GetAtt': ['A', 'Arn'] } } } } });
    expect(findCycle(t)).toEqual(['A', 'B', 'A']);
  });
});

describe('function rollout (CodeDeploy)', () => {
  test('prod: canary 10% for 5 minutes, rolled back by alias errors, API 5xx and internal errors', () => {
    const t = prod();
    t.resourceCountIs('AWS::CodeDeploy::DeploymentGroup', 1);
    t.hasResourceProperties('AWS::CodeDeploy::Application', { ComputePlatform: 'Lambda' });
    t.hasResourceProperties('AWS::CodeDeploy::DeploymentGroup', {
      DeploymentConfigName: 'CodeDeployDefault.LambdaCanary10Percent5Minutes',
      DeploymentStyle: { DeploymentOption: 'WITH_TRAFFIC_CONTROL', DeploymentType: 'BLUE_GREEN' },
      AutoRollbackConfiguration: { Enabled: true, Events: Match.arrayWith(['DEPLOYMENT_FAILURE', 'DEPLOYMENT_STOP_ON_ALARM']) },
      AlarmConfiguration: {
        Enabled: true,
        Alarms: FUNCTION_ROLLBACK_ALARMS.map((k) => ({ Name: { Ref: logicalIdOfAlarm(t, `sagefront-prod-${k}`) } })),
      },
    });
    const [[, aliasRes]] = Object.entries(t.findResources('AWS::Lambda::Alias')) as [string, { UpdatePolicy?: Props }][];
    expect(aliasRes.UpdatePolicy).toEqual({
      CodeDeployLambdaAliasUpdate: { ApplicationName: expect.anything(), DeploymentGroupName: expect.anything() },
    });
  });

  test.each([
    ['linear10PercentEvery1Minute', 'CodeDeployDefault.LambdaLinear10PercentEvery1Minute'],
    ['allAtOnce', 'CodeDeployDefault.LambdaAllAtOnce'],
  ])('rollout.function %s → %s', (name, cfn) => {
    const t = synthStage(stageConfig('prod', { rollout: { function: name } })).template;
    t.hasResourceProperties('AWS::CodeDeploy::DeploymentGroup', { DeploymentConfigName: cfn });
  });

  test('a stage without rollout.function gets the canary by default', () => {
    expect(stageConfig('prod', { rollout: undefined }).rollout.function).toBe('canary10Percent5Minutes');
  });
});

describe('SageMaker deployment guardrails', () => {
  function deploymentConfig(t: Template): Props | undefined {
    const [[, ep]] = resourcesOf(t, 'AWS::SageMaker::Endpoint');
    return ep.Properties.DeploymentConfig as Props | undefined;
  }

  test('prod (instance): blue/green all at once, 10 min baking, 1 h limit, rolled back by the model alarms', () => {
    const t = prod();
    expect(deploymentConfig(t)).toEqual({
      BlueGreenUpdatePolicy: {
        TrafficRoutingConfiguration: { Type: 'ALL_AT_ONCE', WaitIntervalInSeconds: 300 },
        TerminationWaitInSeconds: 600,
        MaximumExecutionTimeoutInSeconds: 3600,
      },
      AutoRollbackConfiguration: { Alarms: MODEL_ROLLBACK_ALARMS.map((k) => ({ AlarmName: `sagefront-prod-${k}` })) },
    });
  });

  test('every rollback alarm the endpoint names is an alarm of the stack (literal names, no cycle)', () => {
    const t = prod();
    const names = (deploymentConfig(t)!.AutoRollbackConfiguration as { Alarms: { AlarmName: unknown }[] }).Alarms.map((a) => a.AlarmName);
    for (const n of names) {
      expect(typeof n).toBe('string');
      expect(alarms(t).has(n as string)).toBe(true);
    }
  });

  test('canary and linear on a fleet of at least two instances', () => {
    const fleet = { model: { variant: { initialInstanceCount: 2, autoscaling: { minCapacity: 2, maxCapacity: 4 } } } };
    const canary = synthStage(stageConfig('prod', merge(fleet, { rollout: { endpoint: { trafficRouting: 'canary', stepPercent: 25, waitSeconds: 600 } } }))).template;
    expect((deploymentConfig(canary)!.BlueGreenUpdatePolicy as Props).TrafficRoutingConfiguration).toEqual({
      Type: 'CANARY', CanarySize: { Type: 'CAPACITY_PERCENT', Value: 25 }, WaitIntervalInSeconds: 600,
    });
    const linear = synthStage(stageConfig('prod', merge(fleet, { rollout: { endpoint: { trafficRouting: 'linear', stepPercent: 50, waitSeconds: 120 } } }))).template;
    expect((deploymentConfig(linear)!.BlueGreenUpdatePolicy as Props).TrafficRoutingConfiguration).toEqual({
      Type: 'LINEAR', LinearStepSize: { Type: 'CAPACITY_PERCENT', Value: 50 }, WaitIntervalInSeconds: 120,
    });
  });

  test('rollout.endpoint.enabled: false leaves SageMaker\'s default update', () => {
    const t = synthStage(stageConfig('prod', { rollout: { endpoint: { enabled: false } } })).template;
    expect(deploymentConfig(t)).toBeUndefined();
  });

  test('builtin on an instance variant gets the same guardrails', () => {
    const t = synthStage(stageConfig('prod', { model: { source: 'builtin', modelDataUrl: 's3://training-bucket/model.tar.gz' } })).template;
    expect(deploymentConfig(t)).toBeDefined();
  });

  test('serverless (dev): no DeploymentConfig, and the construct refuses one', () => {
    expect(deploymentConfig(dev())).toBeUndefined();
    const stack = new Stack(testApp(), 'S');
    expect(() => new SageMakerEndpoint(stack, 'E', {
      image: ModelImage.builtinImageClassification(),
      variant: { type: 'serverless', memoryMb: 2048, maxConcurrency: 1 },
      guardrails: { rollout: stageConfig('prod').rollout.endpoint, rollbackAlarmNames: ['a'] },
    })).toThrow(/instance variants only/);
  });
});

describe('dev stays cheap', () => {
  test('no CodeDeploy, no guardrails, no topic or key', () => {
    const t = dev();
    t.resourceCountIs('AWS::CodeDeploy::Application', 0);
    t.resourceCountIs('AWS::CodeDeploy::DeploymentGroup', 0);
    t.resourceCountIs('AWS::SNS::Topic', 0);
    t.resourceCountIs('AWS::KMS::Key', 0);
  });

  test('low limits: serverless MaxConcurrency, stage throttle and quota well below prod\'s', () => {
    const d = stageConfig('dev');
    const p = stageConfig('prod');
    expect(d.model.source === 'bundled' && d.model.variant).toMatchObject({ type: 'serverless', maxConcurrency: 5 });
    expect(d.api.throttleRateLimit).toBeLessThanOrEqual(5);
    expect(d.api.throttleBurstLimit).toBeLessThanOrEqual(10);
    expect(d.api.quota.limit).toBeLessThan(p.api.quota.limit);
    expect(d.rollout.function).toBe('none');
    dev().hasResourceProperties('AWS::ApiGateway::Stage', {
      MethodSettings: Match.arrayWith([Match.objectLike({ ThrottlingRateLimit: 5, ThrottlingBurstLimit: 10 })]),
    });
  });

  test('prod\'s cost guards: autoscaling max, reserved concurrency, usage-plan quota', () => {
    const t = prod();
    t.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', { MaxCapacity: 4 });
    t.hasResourceProperties('AWS::Lambda::Function', { ReservedConcurrentExecutions: 50 });
    t.hasResourceProperties('AWS::ApiGateway::UsagePlan', { Quota: { Limit: 100000, Period: 'DAY' } });
  });
});

describe('alarm topic', () => {
  test('alarms.email: a KMS-encrypted, SSL-only topic CloudWatch may publish to; every alarm notifies it', () => {
    const t = synthStage(stageConfig('dev', { alarms: { email: 'ops@example.com' } })).template;
    t.hasResourceProperties('AWS::KMS::Key', {
      EnableKeyRotation: true,
      KeyPolicy: { Statement: Match.arrayWith([Match.objectLike({
        Principal: { Service: 'cloudwatch.amazonaws.com' }, Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
      })]) },
    });
    t.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: { 'Fn::GetAtt': [Match.anyValue(), 'Arn'] } });
    t.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
    t.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'ops@example.com' });
    const topicId = resourcesOf(t, 'AWS::SNS::Topic')[0][0];
    for (const a of alarms(t).values()) {
      expect(a.AlarmActions).toEqual([{ Ref: topicId }]);
      expect(a.OKActions).toEqual([{ Ref: topicId }]);
    }
  });

  test('alarms.topicArn: alarms notify the existing topic, nothing is created', () => {
    const arn = 'arn:aws:sns:eu-west-1:123456789012:oncall';
    const t = synthStage(stageConfig('dev', { alarms: { topicArn: arn } })).template;
    t.resourceCountIs('AWS::SNS::Topic', 0);
    for (const a of alarms(t).values()) expect(a.AlarmActions).toEqual([arn]);
  });
});

describe('dashboard', () => {
  test('one per stage, named after the stack, with requests, error codes, latency split and capacity', () => {
    const [[, d]] = resourcesOf(prod(), 'AWS::CloudWatch::Dashboard');
    expect(d.Properties.DashboardName).toBe('sagefront-prod');
    const body = JSON.stringify(d.Properties.DashboardBody);
    for (const s of ['Requests and API errors', 'Error codes', 'Latency split', 'Capacity', 'ModelLatency',
      'IntegrationLatency', 'InvocationsPerInstance', 'ConcurrentExecutions', 'model_error', 'endpoint_timeout']) {
      expect(body).toContain(s);
    }
  });

  test('serverless: MaxConcurrency drawn on the capacity graph', () => {
    const [[, d]] = resourcesOf(dev(), 'AWS::CloudWatch::Dashboard');
    expect(JSON.stringify(d.Properties.DashboardBody)).toContain('serverless MaxConcurrency');
  });

  test('dashboard: false creates none', () => {
    synthStage(stageConfig('dev', { dashboard: false })).template.resourceCountIs('AWS::CloudWatch::Dashboard', 0);
  });
});

describe('operations config validation', () => {
  const bad: [string, unknown, RegExp][] = [
    ['datapoints above periods', { alarms: { evaluationPeriods: 2, datapointsToAlarm: 3 } }, /\(alarms\.datapointsToAlarm\): datapointsToAlarm \(3\) must not exceed evaluationPeriods \(2\)/],
    ['unknown alarm key', { alarms: { api5xx: 1 } }, /unknown key "alarms.api5xx"/],
    ['bad e-mail', { alarms: { email: 'nobody' } }, /\(alarms\.email\): must be an e-mail address \(got "nobody"\)/],
    ['bad topic ARN', { alarms: { topicArn: 'oncall' } }, /\(alarms\.topicArn\): must be the ARN of an SNS topic/],
    ['unknown function rollout', { rollout: { function: 'canary50' } }, /\(rollout\.function\): must be one of: none, allAtOnce/],
    ['canary over half the fleet', { rollout: { endpoint: { trafficRouting: 'canary', stepPercent: 60 } } }, /\(rollout\.endpoint\.stepPercent\): a canary may be at most 50%/],
    ['canary on one instance', { rollout: { endpoint: { trafficRouting: 'canary', stepPercent: 50 } } }, /\(rollout\.endpoint\.trafficRouting\): trafficRouting "canary" needs a fleet of at least 2 instances/],
    ['deadline shorter than the waits', { rollout: { endpoint: { bakeSeconds: 3000, waitSeconds: 600, maxExecutionSeconds: 3600 } } },
      /\(rollout\.endpoint\.maxExecutionSeconds\): maxExecutionSeconds \(3600\) must exceed the deployment's total waiting time \(1 × waitSeconds \+ bakeSeconds = 3600 s\)/],
    ['dashboard not a boolean', { dashboard: 'yes' }, /\(dashboard\): must be true or false \(got "yes"\)/],
  ];
  test.each(bad)('%s', (_name, patch, message) => {
    expect(() => parseStage('prod', merge(rawStage('prod'), patch))).toThrow(message);
  });

  test('defaults when a stage says nothing about operations', () => {
    const c = parseStage('x', { model: { variant: { type: 'serverless', memoryMb: 1024, maxConcurrency: 1 } } });
    expect(c.alarms).toEqual({
      email: undefined, topicArn: undefined, evaluationPeriods: 5, datapointsToAlarm: 3, api5xxPercent: 5,
      apiLatencyP99Ms: 10000, functionErrors: 1, functionThrottles: 1, functionDurationPercent: 80, errorCodeCount: 5,
      model5xx: 5, modelLatencyP99Ms: 5000, modelSetupTimeMs: 30000, invocationsPerHour: 1250,
    });
    expect(c.rollout).toEqual({
      function: 'canary10Percent5Minutes',
      endpoint: { enabled: true, trafficRouting: 'allAtOnce', stepPercent: 50, waitSeconds: 300, bakeSeconds: 600, maxExecutionSeconds: 3600 },
    });
    expect(c.dashboard).toBe(true);
  });
});

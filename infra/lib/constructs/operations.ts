/**
 * Operating one stage: error-code metrics from the function's structured log, alarms on the API,
 * the function and the endpoint (with an optional SNS topic), and a dashboard.
 *
 * Alarm names are fixed strings (`<prefix>-<key>`, see {@link alarmName}) so that the endpoint's
 * deployment guardrails can name the alarms that watch it without a dependency cycle.
 */
import { Duration, RemovalPolicy, Token } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import { AlarmThresholdsInput, alarmThresholdsSchema } from '../config/schema';
import { defaultDatapointsToAlarm, formatIssue } from '../config/stage';

/**
 * Server-side error codes of the function's contract (DESIGN.md), each counted by a metric filter
 * and alarmed on separately: they point at different culprits.
 */
export const ERROR_CODES = [
  'model_error', 'bad_model_response', 'endpoint_unavailable', 'endpoint_timeout', 'throttled', 'internal',
] as const;
export type ErrorCode = typeof ERROR_CODES[number];

/**
 * The filter pattern that matches the function's per-request log line with `code`.
 *
 * The function logs through `lambda_http::tracing::init_default_subscriber()`
 * (lambda_runtime_api_client 1.x). With `AWS_LAMBDA_LOG_FORMAT=JSON` (the function's JSON log
 * format) that is tracing-subscriber's JSON formatter with its default `flatten_event(false)`,
 * `with_target(false)` and `without_time()`, so one request is one line shaped
 * `{"level":"INFO","fields":{"message":"request","status":502,"code":"model_error",…},"span":…,"spans":[…]}`:
 * the event's fields, `message` included, are nested under `fields`; `status` is a JSON number and
 * `code` a string (`"-"` on success). Lambda passes a line that is already JSON through unchanged.
 */
export function errorCodePattern(code: string): logs.IFilterPattern {
  return logs.FilterPattern.all(
    logs.FilterPattern.stringValue('$.fields.message', '=', 'request'),
    logs.FilterPattern.stringValue('$.fields.code', '=', code),
  );
}

/** `<prefix>-<key>`: the literal name of one of the stage's alarms. */
export function alarmName(prefix: string, key: string): string {
  return `${prefix}-${key}`;
}

/** Keys of the alarms that roll back a function deployment (CodeDeploy). */
export const FUNCTION_ROLLBACK_ALARMS = ['function-errors', 'api-5xx-rate', 'code-internal'] as const;
/** Keys of the alarms that roll back an endpoint update (SageMaker deployment guardrails). */
export const MODEL_ROLLBACK_ALARMS = ['model-5xx', 'model-latency-p99', 'code-model_error', 'code-bad_model_response'] as const;

/** The SageMaker endpoint variant the alarms watch. */
export interface WatchedEndpoint {
  readonly endpointName: string;
  readonly variantName: string;
  readonly serverless: boolean;
  /** Serverless MaxConcurrency, drawn on the dashboard. @default none */
  readonly maxConcurrency?: number;
}

/** Properties of {@link Operations}. */
export interface OperationsProps {
  /** Prefix of alarm and dashboard names, e.g. the stack name. */
  readonly namePrefix: string;
  /** Namespace of the error-code metrics. */
  readonly metricNamespace: string;
  /**
   * The REST API's name and stage, as literals. The alarms that roll back a function deployment
   * must not depend on the API's resources: the API's methods depend on the alias, and the alias
   * (through its CodeDeploy update policy) on the deployment group that references the alarms.
   */
  readonly apiName: string;
  readonly apiStageName: string;
  /** The alias the API invokes. */
  readonly alias: lambda.Alias;
  /** The function's timeout (the duration alarm is a percentage of it). */
  readonly functionTimeout: Duration;
  /** The function's log group, where the per-request lines are. */
  readonly logGroup: logs.ILogGroup;
  /** @default no SageMaker alarms (an `existing` endpoint whose variants this stack does not know) */
  readonly endpoint?: WatchedEndpoint;
  /**
   * Alarm thresholds (the `alarms` settings: their meanings and defaults are in the settings
   * reference). Without `invocationsPerHour` there is no cost alarm.
   * @default the settings schema's defaults
   */
  readonly thresholds?: AlarmThresholdsInput;
  /** Subscribed to a new KMS-encrypted topic that all alarms notify. @default no topic */
  readonly alarmEmail?: string;
  /** An existing topic that all alarms notify. @default none */
  readonly alarmTopicArn?: string;
  /** @default true */
  readonly dashboard?: boolean;
}

/** Metric filters, alarms, the optional alarm topic and the dashboard of one stage. */
export class Operations extends Construct {
  /** Every alarm by key (`api-5xx-rate`, `code-model_error`, …). */
  readonly alarms: Record<string, cloudwatch.Alarm> = {};
  /** The topic created for `alarmEmail`. */
  readonly topic?: sns.Topic;
  readonly dashboard?: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: OperationsProps) {
    super(scope, id);
    const t = resolveThresholds(props.thresholds);
    const minute = Duration.minutes(1);
    if (Token.isUnresolved(props.apiName) || Token.isUnresolved(props.apiStageName)) {
      throw new Error('apiName and apiStageName must be literals (a reference would make the rollback alarms depend on the API, a cycle)');
    }
    const apiDimensions = { ApiName: props.apiName, Stage: props.apiStageName };
    const apiMetric = (metricName: string, o: cloudwatch.MetricOptions) => new cloudwatch.Metric({
      namespace: 'AWS/ApiGateway', metricName, dimensionsMap: apiDimensions, ...o,
    });
    const alias = props.alias;

    // Error codes from the structured log. No default value: a metric (and its cost) exists only
    // once a code has occurred; alarms treat the missing data as OK.
    const codeMetrics = {} as Record<ErrorCode, cloudwatch.Metric>;
    for (const code of ERROR_CODES) {
      const filter = new logs.MetricFilter(this, `Code${pascal(code)}`, {
        logGroup: props.logGroup,
        filterPattern: errorCodePattern(code),
        metricNamespace: props.metricNamespace,
        metricName: code,
        metricValue: '1',
        unit: cloudwatch.Unit.COUNT,
      });
      codeMetrics[code] = filter.metric({ statistic: 'Sum', period: minute });
    }

    const add = (key: string, description: string, metric: cloudwatch.IMetric, threshold: number,
      opts: { oneOf1?: boolean; evaluationPeriods?: number; comparison?: cloudwatch.ComparisonOperator } = {}) => {
      this.alarms[key] = new cloudwatch.Alarm(this, `Alarm${pascal(key)}`, {
        alarmName: alarmName(props.namePrefix, key),
        alarmDescription: description,
        metric,
        threshold,
        evaluationPeriods: opts.oneOf1 ? 1 : (opts.evaluationPeriods ?? t.evaluationPeriods),
        datapointsToAlarm: opts.oneOf1 ? 1 : Math.min(t.datapointsToAlarm, opts.evaluationPeriods ?? t.evaluationPeriods),
        comparisonOperator: opts.comparison ?? cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
    };
    const atLeast = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD;

    add('api-5xx-rate', `More than ${t.api5xxPercent}% of API requests answered 5xx. First check: the error-code `
      + 'alarms and the function log (which code?), then the endpoint.',
    apiMetric('5XXError', { statistic: 'Average', period: minute }), t.api5xxPercent / 100);
    add('api-latency-p99', `API p99 latency above ${t.apiLatencyP99Ms} ms. First check: the dashboard\'s latency `
      + 'split (API vs function vs model), then endpoint scaling.',
    apiMetric('Latency', { statistic: 'p99', period: minute }), t.apiLatencyP99Ms);
    add('function-errors', `Function invocation errors (a bug or a crash, not a contract error) >= ${t.functionErrors}/min. `
      + 'First check: the function log for panics; a running CodeDeploy deployment rolls back.',
    alias.metricErrors({ statistic: 'Sum', period: minute }), t.functionErrors, { oneOf1: true, comparison: atLeast });
    add('function-throttles', `Function throttled >= ${t.functionThrottles}/min. First check: reserved concurrency `
      + 'and the account\'s concurrency limit against the API throttle.',
    alias.metricThrottles({ statistic: 'Sum', period: minute }), t.functionThrottles, { comparison: atLeast });
    const durationMs = Math.floor(props.functionTimeout.toMilliseconds() * t.functionDurationPercent / 100);
    add('function-duration', `Function p99 duration above ${t.functionDurationPercent}% of its timeout (${durationMs} ms). `
      + 'First check: ModelLatency and endpoint_timeout; the model, not the function, is usually slow.',
    alias.metricDuration({ statistic: 'p99', period: minute }), durationMs);
    for (const code of ERROR_CODES) {
      add(`code-${code}`, `Requests answered "${code}" >= ${t.errorCodeCount}/min. First check: the error codes in docs/operations.md.`,
        codeMetrics[code], t.errorCodeCount, { comparison: atLeast });
    }

    const ep = props.endpoint;
    let sm: ((name: string, statistic: string, period?: Duration) => cloudwatch.Metric) | undefined;
    if (ep) {
      const dimensionsMap = { EndpointName: ep.endpointName, VariantName: ep.variantName };
      sm = (metricName, statistic, period = minute) => new cloudwatch.Metric({
        namespace: 'AWS/SageMaker', metricName, dimensionsMap, statistic, period,
      });
      add('model-5xx', `SageMaker Invocation5XXErrors >= ${t.model5xx}/min. First check: the endpoint's CloudWatch `
        + 'logs (/aws/sagemaker/Endpoints/<name>); during an endpoint update, the update rolls back.',
      sm('Invocation5XXErrors', 'Sum'), t.model5xx, { comparison: atLeast });
      // SageMaker reports latencies in microseconds.
      add('model-latency-p99', `SageMaker ModelLatency p99 above ${t.modelLatencyP99Ms} ms. First check: `
        + 'CPU of the instances / concurrency of the serverless endpoint, image sizes (PREPROCESS).',
      sm('ModelLatency', 'p99'), t.modelLatencyP99Ms * 1000);
      if (ep.serverless) {
        add('model-setup-time', `SageMaker ModelSetupTime (serverless cold start) above ${t.modelSetupTimeMs} ms. `
          + 'First check: image size; consider provisionedConcurrency.',
        sm('ModelSetupTime', 'Maximum'), t.modelSetupTimeMs * 1000);
      }
      if (t.invocationsPerHour !== undefined) add('model-invocations', `More than ${t.invocationsPerHour} SageMaker invocations in an hour: far above what `
        + 'the usage plan expects (a cost signal). First check: API access logs by apiKeyId and ip.',
      sm('Invocations', 'Sum', Duration.hours(1)), t.invocationsPerHour, { oneOf1: true });
    }

    const topics: sns.ITopic[] = [];
    if (props.alarmEmail !== undefined) {
      // CloudWatch can only publish to an encrypted topic whose key lets it: the AWS managed
      // aws/sns key does not, so the topic has a key of its own (about $1 a month).
      const key = new kms.Key(this, 'AlarmTopicKey', {
        description: `${props.namePrefix}: encrypts the alarm topic`,
        enableKeyRotation: true,
        removalPolicy: RemovalPolicy.DESTROY,
        pendingWindow: Duration.days(7),
      });
      key.grant(new iam.ServicePrincipal('cloudwatch.amazonaws.com'), 'kms:Decrypt', 'kms:GenerateDataKey*');
      this.topic = new sns.Topic(this, 'AlarmTopic', {
        displayName: `${props.namePrefix} alarms`,
        masterKey: key,
        enforceSSL: true,
      });
      this.topic.addSubscription(new subscriptions.EmailSubscription(props.alarmEmail));
      topics.push(this.topic);
    }
    if (props.alarmTopicArn !== undefined) {
      topics.push(sns.Topic.fromTopicArn(this, 'ExistingAlarmTopic', props.alarmTopicArn));
    }
    for (const alarm of Object.values(this.alarms)) {
      for (const topic of topics) {
        alarm.addAlarmAction(new cwActions.SnsAction(topic));
        alarm.addOkAction(new cwActions.SnsAction(topic));
      }
    }

    if (props.dashboard ?? true) {
      this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
        dashboardName: props.namePrefix,
        defaultInterval: Duration.hours(3),
      });
      const fn = alias.version.lambda;
      const ms = (id: string, m: cloudwatch.Metric, label: string) => new cloudwatch.MathExpression({
        expression: `${id} / 1000`, usingMetrics: { [id]: m }, label, period: minute,
      });
      const row1: cloudwatch.IWidget[] = [
        new cloudwatch.GraphWidget({
          title: 'Requests and API errors', width: 8,
          left: [
            apiMetric('Count', { statistic: 'Sum', period: minute, label: 'requests' }),
            apiMetric('4XXError', { statistic: 'Sum', period: minute, label: '4xx' }),
            apiMetric('5XXError', { statistic: 'Sum', period: minute, label: '5xx' }),
          ],
        }),
        new cloudwatch.GraphWidget({
          title: 'Error codes (function log)', width: 8, stacked: true,
          left: ERROR_CODES.map((c) => codeMetrics[c].with({ label: c })),
        }),
        new cloudwatch.GraphWidget({
          title: 'Function errors and throttles', width: 8,
          left: [
            alias.metricErrors({ statistic: 'Sum', period: minute, label: 'errors' }),
            alias.metricThrottles({ statistic: 'Sum', period: minute, label: 'throttles' }),
          ],
        }),
      ];
      const latency: cloudwatch.IMetric[] = [
        apiMetric('Latency', { statistic: 'p99', period: minute, label: 'API p99' }),
        apiMetric('IntegrationLatency', { statistic: 'p99', period: minute, label: 'integration p99' }),
        alias.metricDuration({ statistic: 'p99', period: minute, label: 'function p99' }),
      ];
      const capacity: cloudwatch.IMetric[] = [
        fn.metric('ConcurrentExecutions', { statistic: 'Maximum', period: minute, label: 'function concurrency' }),
      ];
      if (sm) {
        latency.push(ms('model', sm('ModelLatency', 'p99'), 'model p99'), ms('overhead', sm('OverheadLatency', 'p99'), 'SageMaker overhead p99'));
        capacity.push(ep!.serverless
          // Each in-flight function invocation holds at most one endpoint invocation: the
          // function's concurrency bounds the serverless endpoint's.
          ? sm('Invocations', 'Sum').with({ label: 'endpoint invocations' })
          : new cloudwatch.MathExpression({
            expression: 'IF(perInstance > 0, invocations / perInstance, 0)',
            usingMetrics: { invocations: sm('Invocations', 'Sum'), perInstance: sm('InvocationsPerInstance', 'Sum') },
            label: 'endpoint instances (invocations / per instance)', period: minute,
          }));
      }
      this.dashboard.addWidgets(...row1);
      this.dashboard.addWidgets(
        new cloudwatch.GraphWidget({ title: 'Latency split, ms (API / function / model)', width: 12, left: latency }),
        new cloudwatch.GraphWidget({
          title: 'Capacity', width: 12, left: capacity,
          leftAnnotations: ep?.maxConcurrency ? [{ value: ep.maxConcurrency, label: 'serverless MaxConcurrency' }] : undefined,
        }),
      );
      this.dashboard.addWidgets(new cloudwatch.AlarmStatusWidget({
        title: 'Alarms', width: 24, alarms: Object.values(this.alarms),
      }));
    }
  }
}

/** The thresholds with the schema's defaults filled in; invalid values throw, naming the key. */
function resolveThresholds(given: AlarmThresholdsInput | undefined) {
  const parsed = alarmThresholdsSchema.safeParse(given ?? {}, { reportInput: true });
  if (!parsed.success) throw new Error(formatIssue('invalid alarm thresholds', parsed.error.issues[0]));
  const t = parsed.data;
  return { ...t, datapointsToAlarm: t.datapointsToAlarm ?? defaultDatapointsToAlarm(t.evaluationPeriods) };
}

function pascal(s: string): string {
  return s.split(/[^a-zA-Z0-9]+/).map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join('');
}

/**
 * `cdk.json` → the function's routes, `/invocations` defaults, targets and allow-list (issue 18):
 * each variable set only when the stage sets its setting, bad names failing synth with the key,
 * the environment kept under Lambda's 4 KB, and IAM exact: the endpoint, plus the inference
 * components the stage names, never `*`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { addNagChecks } from '../lib/app';
import { ConfigError, parseStage, StageConfig } from '../lib/config';
import { environmentBytes, FunctionCode } from '../lib/constructs/inference-function';
import { ExistingEndpoint } from '../lib/constructs/model-endpoint';
import { SagefrontApi } from '../lib/constructs/sagefront-api';
import { FIXTURE, REPO_ROOT, resourcesOf, stageConfig, synthStage, testApp } from './helpers';

const EXISTING = { source: 'existing', endpointName: 'Chat-Endpoint', variant: undefined };
/** The example stage of the docs: an existing JSON-in/JSON-out endpoint with inference components. */
const EXAMPLE_FILE = path.join(REPO_ROOT, 'infra', 'examples', 'llm-stage.json');
const example = () => JSON.parse(fs.readFileSync(EXAMPLE_FILE, 'utf8'));

const cache = new Map<string, Template>();
function template(name: string, config: () => StageConfig): Template {
  if (!cache.has(name)) cache.set(name, synthStage(config()).template);
  return cache.get(name)!;
}
const dev = () => template('dev', () => stageConfig('dev'));
const prod = () => template('prod', () => stageConfig('prod'));
const llm = () => template('llm', () => parseStage('llm', example()));

function lambdaEnv(t: Template): Record<string, unknown> {
  const [[, fn]] = resourcesOf(t, 'AWS::Lambda::Function');
  return (fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
}

type Statement = { Action: string | string[]; Resource: unknown };
function invokeStatements(t: Template): Statement[] {
  return resourcesOf(t, 'AWS::IAM::Policy')
    .flatMap(([, r]) => (r.Properties.PolicyDocument as { Statement: Statement[] }).Statement)
    .filter((s) => JSON.stringify(s.Action).includes('sagemaker:'));
}

/** The ARN of an inference component in the stack's account and region, as CloudFormation renders it. */
const componentArn = (name: string) => ({
  'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':sagemaker:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' },
    `:inference-component/${name}`]],
});
const existingEndpointArn = (name: string) => ({
  'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':sagemaker:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' },
    `:endpoint/${name}`]],
});

const NEW_VARIABLES = ['ROUTES', 'INVOCATIONS_CONTENT_TYPE', 'INVOCATIONS_ACCEPT', 'TARGET_INFERENCE_COMPONENT', 'TARGET_MODEL',
  'TARGET_VARIANT', 'TARGET_CONTAINER_HOSTNAME', 'MODELS'];

describe('routes per stage', () => {
  test.each([['dev', dev], ['prod', prod]])('%s serves every route: ROUTES is left to the function', (_n, t) => {
    const env = lambdaEnv(t());
    for (const name of NEW_VARIABLES) expect(env[name]).toBeUndefined();
  });

  test.each([
    [['invocations'], 'invocations'],
    [['predictions', 'resize'], 'predictions,resize'],
    [['resize', 'invocations', 'predictions'], 'predictions,resize,invocations'],
  ])('routes %j → ROUTES=%s (in the function\'s order)', (routes, expected) => {
    const { template: t } = synthStage(stageConfig('dev', { api: { routes } }));
    expect(lambdaEnv(t).ROUTES).toBe(expected);
  });

  test('a route list that is empty, repeats itself or names an unknown route fails synth with the key', () => {
    expect(() => stageConfig('dev', { api: { routes: [] } })).toThrow(/\(api\.routes\): must name at least one of predictions, resize, invocations/);
    expect(() => stageConfig('dev', { api: { routes: ['resize', 'resize'] } })).toThrow(/\(api\.routes\.1\): names "resize" twice/);
    expect(() => stageConfig('dev', { api: { routes: ['health'] } }))
      .toThrow(/\(api\.routes\.0\): must be one of: predictions, resize, invocations \(got "health"\)/);
  });
});

describe('the /invocations defaults, targets and allow-list reach the function as set', () => {
  test('the example stage (an existing JSON endpoint with inference components): its variables, exactly', () => {
    const env = lambdaEnv(llm());
    const cdk = example().model;
    expect(env).toMatchObject({
      ENDPOINT_NAME: 'llm-endpoint',
      ROUTES: 'invocations',
      INVOCATIONS_CONTENT_TYPE: 'application/json',
      INVOCATIONS_ACCEPT: 'application/json',
      TARGET_INFERENCE_COMPONENT: 'llama-3-8b-instruct',
    });
    // The allow-list is the function's JSON, equal to what cdk.json says.
    expect(JSON.parse(env.MODELS as string)).toEqual(cdk.models);
    for (const name of ['TARGET_MODEL', 'TARGET_VARIANT', 'TARGET_CONTAINER_HOSTNAME', 'LABELS_PATH']) expect(env[name]).toBeUndefined();
  });

  test.each([['bundled', {}], ['builtin', { source: 'builtin', modelDataUrl: 's3://bucket/model.tar.gz' }], ['existing', EXISTING]])(
    '%s: every target field and the allow-list become the function\'s variables', (_n, source) => {
      const models = {
        'xgb.v2': { targetModel: 'xgb/v2.tar.gz' },
        'ranker_b': { targetVariant: 'VariantB', targetContainerHostname: 'ranker' },
      };
      const { template: t } = synthStage(stageConfig('prod', {
        model: {
          ...source,
          invocations: { contentType: 'text/csv' },
          target: { targetModel: 'default/model.tar.gz', targetVariant: 'AllTraffic', targetContainerHostname: 'main' },
          models,
        },
      }));
      const env = lambdaEnv(t);
      expect(env).toMatchObject({
        INVOCATIONS_CONTENT_TYPE: 'text/csv',
        TARGET_MODEL: 'default/model.tar.gz',
        TARGET_VARIANT: 'AllTraffic',
        TARGET_CONTAINER_HOSTNAME: 'main',
      });
      expect(env.INVOCATIONS_ACCEPT).toBeUndefined();
      expect(env.TARGET_INFERENCE_COMPONENT).toBeUndefined();
      expect(JSON.parse(env.MODELS as string)).toEqual(models);
    },
  );

  test.each([
    ['a model name with a space', { models: { 'my model': { targetModel: 'm' } } }, /\(model\.models\.my model\): model name "my model" must be 1–63 letters/],
    ['a model name starting with "."', { models: { '.hidden': { targetModel: 'm' } } }, /model name "\.hidden" must be/],
    ['a model name of 64 characters', { models: { ['m'.repeat(64)]: { targetModel: 'm' } } }, /model name "m{64}" must be/],
    ['an allow-list entry without a target', { models: { a: {} } }, /\(model\.models\.a\): names no target/],
    ['an unknown target field', { models: { a: { component: 'x' } } }, /unknown key "model\.models\.a\.component"/],
    ['an inference component with "_"', { models: { a: { inferenceComponent: 'ic_1' } } },
      /\(model\.models\.a\.inferenceComponent\): must be an inference component name .* \(got "ic_1"\)/],
    ['a default inference component ending in "-"', { target: { inferenceComponent: 'ic-' } }, /\(model\.target\.inferenceComponent\): must be/],
    ['a variant name with a dot', { target: { targetVariant: 'v.1' } }, /\(model\.target\.targetVariant\): must be a production variant name/],
    ['a container hostname of 64 characters', { target: { targetContainerHostname: 'h'.repeat(64) } },
      /\(model\.target\.targetContainerHostname\): must be a container hostname/],
    ['a TargetModel with a tab', { target: { targetModel: 'a\tb' } }, /\(model\.target\.targetModel\): must be a TargetModel/],
    ['an empty target', { target: {} }, /\(model\.target\): names no target/],
    ['a content type without "/"', { invocations: { contentType: 'json' } }, /\(model\.invocations\.contentType\): must be a media type/],
    ['an allow-list that is a list', { models: [{ targetModel: 'm' }] }, /\(model\.models\): must be an object of model name → target/],
  ])('%s fails synth with an error naming the key', (_n, model, message) => {
    expect(() => stageConfig('dev', { model })).toThrow(ConfigError);
    expect(() => stageConfig('dev', { model })).toThrow(message);
  });

  test('names the function accepts are accepted: the same rules', () => {
    const c = stageConfig('dev', {
      model: {
        target: { inferenceComponent: 'A-1', targetModel: 'path/to model.tar.gz', targetVariant: 'AllTraffic' },
        models: { 'Llama-3.1_8b': { inferenceComponent: 'a'.repeat(63) }, ['x'.repeat(63)]: { targetModel: 'm' } },
      },
    });
    expect(Object.keys(c.modelContract.models!)).toHaveLength(2);
  });

  test('FAULT_INJECTION is never set by the stack, whatever the stage sets', () => {
    const stages: StageConfig[] = [
      stageConfig('dev'), stageConfig('prod'), parseStage('llm', example()),
      stageConfig('dev', { model: { source: 'builtin', modelDataUrl: 's3://bucket/model.tar.gz' } }),
      stageConfig('prod', { model: { ...EXISTING, target: { targetVariant: 'v' } }, api: { routes: ['predictions'] } }),
    ];
    for (const config of stages) expect(Object.keys(lambdaEnv(synthStage(config).template))).not.toContain('FAULT_INJECTION');
  });
});

describe('IAM: InvokeEndpoint on the endpoint and the inference components named, nothing else', () => {
  test('the example stage: the endpoint, and each inference component once, lowercased', () => {
    expect(invokeStatements(llm())).toEqual([{
      Action: 'sagemaker:InvokeEndpoint',
      Effect: 'Allow',
      Resource: [existingEndpointArn('llm-endpoint'), componentArn('llama-3-8b-instruct'), componentArn('mistral-7b-instruct')],
    }]);
  });

  test('mixed-case names are granted as SageMaker writes them in ARNs: lowercased', () => {
    const { template: t } = synthStage(stageConfig('dev', {
      model: { ...EXISTING, target: { inferenceComponent: 'Default-IC' }, models: { big: { inferenceComponent: 'Big-IC' } } },
    }));
    const [statement] = invokeStatements(t);
    expect(statement.Resource).toEqual([existingEndpointArn('chat-endpoint'), componentArn('big-ic'), componentArn('default-ic')]);
  });

  test.each([['dev', dev], ['prod', prod]])('%s names no inference component: the endpoint alone', (_n, t) => {
    expect(invokeStatements(t())).toEqual([{
      Action: 'sagemaker:InvokeEndpoint',
      Effect: 'Allow',
      Resource: { 'Fn::GetAtt': [expect.stringMatching(/^ModelEndpoint/), 'EndpointArn'] },
    }]);
  });

  test('targets other than inference components add no resource', () => {
    const { template: t } = synthStage(stageConfig('dev', {
      model: { ...EXISTING, target: { targetModel: 'm.tar.gz', targetVariant: 'v' }, models: { a: { targetContainerHostname: 'c' } } },
    }));
    expect(invokeStatements(t)).toEqual([{ Action: 'sagemaker:InvokeEndpoint', Effect: 'Allow', Resource: existingEndpointArn('chat-endpoint') }]);
    expect(JSON.stringify(invokeStatements(t))).not.toContain('*');
  });

  test('a created endpoint with an inference component: its own ARN and the component\'s', () => {
    const { template: t } = synthStage(stageConfig('prod', { model: { target: { inferenceComponent: 'ic-1' } } }));
    expect(invokeStatements(t)[0].Resource).toEqual([
      { 'Fn::GetAtt': [expect.stringMatching(/^ModelEndpoint/), 'EndpointArn'] }, componentArn('ic-1'),
    ]);
  });
});

describe('the function\'s environment stays under Lambda\'s 4 KB', () => {
  test('Lambda measures the variables as one JSON object: quotes and escapes count', () => {
    expect(environmentBytes({ A: 'b' })).toBe('{"A":"b"}'.length);
    expect(environmentBytes({ MODELS: '{"a":1}' })).toBe('{"MODELS":"{\\"a\\":1}"}'.length);
  });

  test('an allow-list too large fails synth, naming the variable', () => {
    // About 65 bytes per entry as Lambda measures it: 70 entries are 4.5 KB on their own.
    const models = Object.fromEntries(Array.from({ length: 70 }, (_, i) => [`model-${i}`, { inferenceComponent: `inference-component-${i}` }]));
    expect(() => synthStage(stageConfig('dev', { model: { ...EXISTING, models } })))
      .toThrow(/the function's environment is \d+ bytes, over Lambda's limit of 4096 bytes .* the largest variables: MODELS \(\d+ bytes\)/);
    // 40 such entries fit.
    const fewer = Object.fromEntries(Object.entries(models).slice(0, 40));
    expect(() => synthStage(stageConfig('dev', { model: { ...EXISTING, models: fewer } }))).not.toThrow();
  });
});

describe('the example stage', () => {
  test('is valid and cdk-nag clean: keyed /invocations only, every media type binary', () => {
    const { template: t } = synthStage(parseStage('llm', example()), { nag: true });
    t.hasResourceProperties('AWS::ApiGateway::RestApi', { BinaryMediaTypes: ['*/*'] });
    t.hasResourceProperties('AWS::ApiGateway::Method', { HttpMethod: 'ANY', ApiKeyRequired: true });
    t.resourceCountIs('AWS::SageMaker::Endpoint', 0);
  });
});

describe('SagefrontApi takes the same settings, checked the same way', () => {
  const code = () => FunctionCode.fromWorkspace({ manifestPath: path.join(FIXTURE.root, 'Cargo.toml') });

  test('routes, targets and the allow-list reach the function; the components reach IAM', () => {
    const app = testApp();
    const stack = new Stack(app, 'Mine');
    new SagefrontApi(stack, 'Inference', {
      endpoint: ExistingEndpoint.fromName(stack, 'e'),
      code: code(),
      routes: ['invocations'],
      function: { invocationsAccept: 'application/json', models: { a: { inferenceComponent: 'ic-a' } } },
    });
    addNagChecks(app);
    const t = Template.fromStack(stack);
    expect(lambdaEnv(t)).toMatchObject({ ROUTES: 'invocations', INVOCATIONS_ACCEPT: 'application/json', MODELS: '{"a":{"inferenceComponent":"ic-a"}}' });
    expect(invokeStatements(t)[0].Resource).toEqual([existingEndpointArn('e'), componentArn('ic-a')]);
    t.hasResourceProperties('AWS::ApiGateway::RestApi', { BinaryMediaTypes: ['*/*'] });
  });

  test('bad names throw, naming the property', () => {
    const stack = new Stack(testApp(), 'Mine');
    const base = { endpoint: ExistingEndpoint.fromName(stack, 'e'), code: code() };
    expect(() => new SagefrontApi(stack, 'A', { ...base, function: { models: { 'a b': { targetModel: 'm' } } } }))
      .toThrow(/invalid models \(a b\): model name "a b" must be/);
    expect(() => new SagefrontApi(stack, 'B', { ...base, function: { target: { inferenceComponent: 'x_y' } } }))
      .toThrow(/invalid target \(inferenceComponent\): must be an inference component name/);
    expect(() => new SagefrontApi(stack, 'C', { ...base, routes: [] })).toThrow(/invalid routes: must name at least one/);
  });
});

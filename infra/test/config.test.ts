import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  ConfigError, deriveTimeouts, MAX_API_TIMEOUT_SECONDS, parseStages, REALTIME_MAX_IMAGE_BYTES,
  selectStages, SERVERLESS_MAX_IMAGE_BYTES, STAGES_CONTEXT_KEY,
} from '../lib/config';
import { cdkJsonContext, REPO_ROOT, stageConfig } from './helpers';

describe('cdk.json stages', () => {
  const stages = parseStages(cdkJsonContext()[STAGES_CONTEXT_KEY]);

  test('define dev and prod as sagefront-<stage> stacks', () => {
    expect(stages.map((s) => s.stackName)).toEqual(['sagefront-dev', 'sagefront-prod']);
  });

  test('dev is a cheap serverless stage without API keys', () => {
    const dev = stageConfig('dev');
    expect(dev.model).toMatchObject({ source: 'bundled', variant: { type: 'serverless' } });
    expect(dev.api.apiKeyRequired).toBe(false);
    expect(dev.function.maxImageBytes).toBe(SERVERLESS_MAX_IMAGE_BYTES);
  });

  test('prod requires API keys and autoscales an instance variant', () => {
    const prod = stageConfig('prod');
    expect(prod.api.apiKeyRequired).toBe(true);
    expect(prod.model).toMatchObject({ source: 'bundled', variant: { type: 'instance', autoscaling: { minCapacity: 1 } } });
    expect(prod.function.maxImageBytes).toBe(REALTIME_MAX_IMAGE_BYTES);
  });

  test.each(['dev', 'prod'])('%s ships a label file that is committed in labels/', (name) => {
    const { labels } = stageConfig(name).modelContract;
    expect(labels).toBeDefined();
    const file = path.join(REPO_ROOT, 'labels', labels!.file);
    expect(fs.existsSync(file)).toBe(true);
    const lines = fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.trim() !== '');
    expect(lines).toHaveLength(labels!.classes);
  });
});

describe('defaults by model source', () => {
  test('bundled: ImageNet labels and top-5 by default', () => {
    const c = stageConfig('dev');
    expect(c.modelContract.labels).toEqual({ name: 'imagenet-1k', file: 'imagenet-1k.txt', classes: 1000 });
    expect(c.function.defaultTopK).toBe(5);
    // The function's own settings stay unset: its defaults apply (they live in the function only).
    expect(c.modelContract.contentType).toBeUndefined();
    expect(c.modelContract.output).toBeUndefined();
    expect(c.function.preprocess).toBeUndefined();
    expect(c.function.preprocessMaxSide).toBeUndefined();
  });

  test('builtin: Caltech-256 labels and all classes by default, like the original', () => {
    const c = stageConfig('dev', { model: { source: 'builtin', modelDataUrl: 's3://bucket/out/model.tar.gz' } });
    expect(c.modelContract.labels).toMatchObject({ name: 'caltech-256', classes: 257 });
    expect(c.function.defaultTopK).toBeUndefined();
  });

  test('existing: no labels unless configured; payload limit follows the serverless flag', () => {
    const c = stageConfig('dev', { model: { source: 'existing', endpointName: 'My-Endpoint', variant: undefined } });
    expect(c.modelContract.labels).toBeUndefined();
    expect(c.function.maxImageBytes).toBe(REALTIME_MAX_IMAGE_BYTES);
    const s = stageConfig('dev', { model: { source: 'existing', endpointName: 'e', serverless: true, labels: 'caltech-256', variant: undefined } });
    expect(s.function.maxImageBytes).toBe(SERVERLESS_MAX_IMAGE_BYTES);
    expect(s.modelContract.labels?.name).toBe('caltech-256');
  });
});

describe('timeouts', () => {
  test.each([4, 10, 29])('are ordered invoke < function < integration <= 29 s for %i s', (s) => {
    const t = deriveTimeouts(s);
    expect(t.invokeMs).toBeLessThan(t.functionSeconds * 1000);
    expect(t.functionSeconds * 1000).toBeLessThan(t.integrationMs);
    expect(t.integrationMs).toBeLessThanOrEqual(MAX_API_TIMEOUT_SECONDS * 1000);
  });

  test('derive from api.timeoutSeconds', () => {
    expect(stageConfig('dev', { api: { timeoutSeconds: 10 } }).timeouts)
      .toEqual({ integrationMs: 10000, functionSeconds: 9, invokeMs: 8000 });
  });
});

describe('invalid configuration throws a clear error', () => {
  const cases: [string, unknown, RegExp][] = [
    ['serverless memory not a 1 GB step', { model: { variant: { memoryMb: 1000 } } },
      /stage "dev" \(model\.variant\.memoryMb\): must be one of 1024, 2048, 3072, 4096, 5120, 6144 \(got 1000\)/],
    ['Lambda memory out of range', { function: { memoryMb: 64 } },
      /stage "dev" \(function\.memoryMb\): must be an integer from 128 to 10240 \(got 64\)/],
    ['builtin without modelDataUrl', { model: { source: 'builtin' } },
      /\(model\.modelDataUrl\): source "builtin" needs "modelDataUrl"/],
    ['builtin with a non-S3 modelDataUrl', { model: { source: 'builtin', modelDataUrl: 'https://x/y' } },
      /\(model\.modelDataUrl\): must be an s3:\/\/bucket\/key URL/],
    ['existing without endpointName', { model: { source: 'existing', variant: undefined } },
      /\(model\.endpointName\): source "existing" needs "endpointName"/],
    ['existing with an invalid endpoint name', { model: { source: 'existing', endpointName: 'bad_name', variant: undefined } },
      /\(model\.endpointName\): must be a SageMaker endpoint name/],
    ['unknown model source', { model: { source: 'huggingface' } },
      /\(model\.source\): must be one of: bundled, builtin, existing \(got "huggingface"\)/],
    ['a misspelt key', { function: { memorySize: 512 } },
      /\(function\): unknown key "function\.memorySize" \(expected one of: memoryMb,/],
    ['provisioned concurrency above the maximum', { model: { variant: { provisionedConcurrency: 9 } } },
      /\(model\.variant\.provisionedConcurrency\): provisionedConcurrency \(9\) must not exceed maxConcurrency \(5\)/],
    ['integration timeout above 29 s', { api: { timeoutSeconds: 30 } },
      /\(api\.timeoutSeconds\): must be an integer from 4 to 29 \(got 30\)/],
    ['log retention CloudWatch does not offer', { api: { logRetentionDays: 10 } },
      /\(api\.logRetentionDays\): must be a CloudWatch Logs retention in days/],
    ['unknown label set', { model: { labels: 'coco' } },
      /\(model\.labels\): must be one of: imagenet-1k, caltech-256, none \(got "coco"\)/],
    ['defaultTopK larger than the label set', { function: { defaultTopK: 1001 } },
      /\(function\.defaultTopK\): function\.defaultTopK \(1001\) exceeds the 1000 classes of imagenet-1k/],
    ['a CORS origin with a path', { api: { corsAllowOrigin: 'https://a.example/x' } },
      /\(api\.corsAllowOrigin\): must be "\*" or one origin/],
    ['a misspelt key in a variant', { model: { variant: { memory: 1024 } } },
      /\(model\.variant\): unknown key "model\.variant\.memory" \(expected one of: type, memoryMb, maxConcurrency, provisionedConcurrency\)/],
    ['a variant without a type', { model: { variant: { type: undefined } } },
      /\(model\.variant\.type\): is required \(one of: serverless, instance\)/],
    ['a required number missing', { model: { variant: { maxConcurrency: undefined } } },
      /\(model\.variant\.maxConcurrency\): is required \(an integer from 1 to 200\)/],
    ['a string where a number belongs', { function: { memoryMb: '512' } },
      /\(function\.memoryMb\): must be an integer from 128 to 10240 \(got "512"\)/],
    ['a fraction where an integer belongs', { api: { throttleRateLimit: 1.5 } },
      /\(api\.throttleRateLimit\): must be an integer from 1 to 10000 \(got 1\.5\)/],
    ['an image limit above the serverless payload limit', { function: { maxImageBytes: 5_000_000 } },
      /\(function\.maxImageBytes\): must be an integer from 1024 to 4000000, the endpoint's payload limit/],
    ['a section that is not an object', { api: 5 },
      /\(api\): must be an object \(got 5\)/],
    ['a malformed account id', { env: { account: '1234' } },
      /\(env\.account\): must be a 12-digit AWS account id \(got "1234"\)/],
  ];
  test.each(cases)('%s', (_name, patch, message) => {
    expect(() => stageConfig('dev', patch)).toThrow(ConfigError);
    expect(() => stageConfig('dev', patch)).toThrow(message);
  });

  test('autoscaling bounds that contradict each other', () => {
    expect(() => stageConfig('prod', { model: { variant: { autoscaling: { minCapacity: 3, maxCapacity: 2 } } } }))
      .toThrow(/\(model\.variant\.autoscaling\.minCapacity\): minCapacity \(3\) must not exceed maxCapacity \(2\)/);
    expect(() => stageConfig('prod', { model: { variant: { initialInstanceCount: 9 } } }))
      .toThrow(/\(model\.variant\.initialInstanceCount\): initialInstanceCount \(9\) must lie within autoscaling min\/max \(1–4\)/);
  });

  test('builtin in a region without the algorithm image', () => {
    expect(() => stageConfig('dev', { env: { region: 'ap-south-2' }, model: { source: 'builtin', modelDataUrl: 's3://bucket/k' } }))
      .toThrow(/\(model\.source\): source "builtin" is not available in ap-south-2/);
  });

  test('an invalid stage name', () => {
    expect(() => stageConfig('Prod_1', {}, 'prod')).toThrow(/stage name "Prod_1" must start with a lowercase letter/);
  });

  test('missing or empty stages context', () => {
    expect(() => parseStages(undefined)).toThrow(/cdk\.json has no "sagefront:stages" context/);
    expect(() => parseStages({})).toThrow(/must be an object with one entry per stage/);
  });

  test('an unknown stage selected with -c stage=', () => {
    const stages = parseStages(cdkJsonContext()[STAGES_CONTEXT_KEY]);
    expect(() => selectStages(stages, 'staging')).toThrow('unknown stage "staging" (cdk.json defines: dev, prod)');
    expect(selectStages(stages, 'prod').map((s) => s.stageName)).toEqual(['prod']);
    expect(selectStages(stages, undefined)).toHaveLength(2);
  });
});

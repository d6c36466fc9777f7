/**
 * The SageMaker side's hardening (issue 17): the model runs network-isolated where SageMaker
 * allows it, the endpoint's storage is encrypted with a KMS key where the variant takes one, and
 * SageMaker may assume the execution role only for this account and region.
 */
import { Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as kms from 'aws-cdk-lib/aws-kms';
import { hasLocalInstanceStorage, StageConfig } from '../lib/config';
import { ModelImage, SageMakerEndpoint } from '../lib/constructs/model-endpoint';
import { resourcesOf, stageConfig, synthStage, testApp } from './helpers';

type Props = Record<string, unknown>;
type Statement = { Action: string | string[]; Resource: unknown; Condition?: unknown; Effect: string; Principal?: unknown };

const BUILTIN = { source: 'builtin', modelDataUrl: 's3://training-bucket/jobs/ic/model.tar.gz' };
const instance = (instanceType: string) => ({ model: { variant: { instanceType } } });

const cache = new Map<string, Template>();
function template(name: string, config: () => StageConfig): Template {
  if (!cache.has(name)) cache.set(name, synthStage(config()).template);
  return cache.get(name)!;
}
const dev = () => template('dev', () => stageConfig('dev'));
const prod = () => template('prod', () => stageConfig('prod'));
const builtinProd = () => template('builtin-prod', () => stageConfig('prod', { model: BUILTIN }));
const builtinDev = () => template('builtin-dev', () => stageConfig('dev', { model: BUILTIN }));

function endpointConfig(t: Template): Props {
  const [[, config]] = resourcesOf(t, 'AWS::SageMaker::EndpointConfig');
  return config.Properties;
}

function executionRoleStatements(t: Template): Statement[] {
  return resourcesOf(t, 'AWS::IAM::Policy')
    .filter(([id]) => id.startsWith('ModelExecutionRole'))
    .flatMap(([, p]) => (p.Properties.PolicyDocument as { Statement: Statement[] }).Statement);
}

const kmsStatements = (t: Template) => executionRoleStatements(t).filter((s) => JSON.stringify(s.Action).includes('kms:'));

describe('network isolation', () => {
  test.each([['bundled (prod, instance)', prod], ['builtin (instance)', builtinProd]])(
    '%s: the model container runs network-isolated', (_n, t) => {
      t().hasResourceProperties('AWS::SageMaker::Model', { EnableNetworkIsolation: true });
    },
  );

  test.each([['bundled (dev, serverless)', dev], ['builtin (serverless)', builtinDev]])(
    '%s: no network isolation, which Serverless Inference does not support', (_n, t) => {
      t().hasResourceProperties('AWS::SageMaker::Model', { EnableNetworkIsolation: Match.absent() });
    },
  );

  test('the construct refuses network isolation on a serverless variant', () => {
    const stack = new Stack(testApp(), 'S');
    expect(() => new SageMakerEndpoint(stack, 'M', {
      image: ModelImage.builtinImageClassification(),
      variant: { type: 'serverless', memoryMb: 1024, maxConcurrency: 1 },
      networkIsolation: true,
    })).toThrow(/networkIsolation: Serverless Inference does not support network isolation/);
  });
});

describe('storage encryption', () => {
  test('prod (ml.c5.large, EBS only): a key of the stack\'s own, rotated, encrypts the endpoint\'s volume', () => {
    const t = prod();
    const keys = resourcesOf(t, 'AWS::KMS::Key');
    expect(keys).toHaveLength(1);
    const [[keyId, key]] = keys;
    expect(key.Properties.EnableKeyRotation).toBe(true);
    expect(endpointConfig(t).KmsKeyId).toEqual({ 'Fn::GetAtt': [keyId, 'Arn'] });
    // The key policy only delegates to this account's IAM (CDK's default): no other account, no service.
    const policy = key.Properties.KeyPolicy as { Statement: Statement[] };
    expect(policy.Statement).toEqual([{
      Action: 'kms:*',
      Effect: 'Allow',
      Principal: { AWS: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::', { Ref: 'AWS::AccountId' }, ':root']] } },
      Resource: '*',
    }]);
  });

  test('the execution role may use that key, and that key only, as a volume\'s encryption needs', () => {
    const t = prod();
    const [[keyId]] = resourcesOf(t, 'AWS::KMS::Key');
    const keyArn = { 'Fn::GetAtt': [keyId, 'Arn'] };
    expect(kmsStatements(t)).toEqual([
      { Action: ['kms:Decrypt', 'kms:DescribeKey', 'kms:GenerateDataKeyWithoutPlaintext'], Effect: 'Allow', Resource: keyArn },
      { Action: 'kms:CreateGrant', Condition: { Bool: { 'kms:GrantIsForAWSResource': 'true' } }, Effect: 'Allow', Resource: keyArn },
    ]);
  });

  test('serverless (dev): no key, which a serverless endpoint config does not take', () => {
    const t = dev();
    expect(endpointConfig(t).KmsKeyId).toBeUndefined();
    t.resourceCountIs('AWS::KMS::Key', 0);
    expect(kmsStatements(t)).toEqual([]);
  });

  // SageMaker refuses KmsKeyId for Nitro instance types with local NVMe storage: that storage is
  // encrypted by a hardware module on the instance (CreateEndpointConfig, KmsKeyId).
  test.each(['ml.m5d.large', 'ml.g5.xlarge', 'ml.g4dn.xlarge', 'ml.p4d.24xlarge'])(
    '%s (local NVMe storage): no key, which SageMaker refuses for it', (instanceType) => {
      const { template: t } = synthStage(stageConfig('prod', instance(instanceType)));
      expect(endpointConfig(t).KmsKeyId).toBeUndefined();
      t.resourceCountIs('AWS::KMS::Key', 0);
    },
  );

  test.each(['ml.c5.large', 'ml.m5.xlarge', 'ml.inf2.xlarge', 'ml.c6i.large'])('%s (EBS only): a key', (instanceType) => {
    const { template: t } = synthStage(stageConfig('prod', instance(instanceType)));
    expect(endpointConfig(t).KmsKeyId).toBeDefined();
    t.resourceCountIs('AWS::KMS::Key', 1);
  });

  test('which instance types have local storage', () => {
    const local = ['ml.m5d.large', 'ml.c5d.xlarge', 'ml.r5d.large', 'ml.g4dn.xlarge', 'ml.g5.xlarge', 'ml.g6.xlarge',
      'ml.g6e.xlarge', 'ml.p3dn.24xlarge', 'ml.p4d.24xlarge', 'ml.p4de.24xlarge', 'ml.p5.48xlarge', 'ml.trn1.2xlarge',
      'ml.c6gd.large', 'ml.m6id.large'];
    const ebs = ['ml.c5.large', 'ml.m5.large', 'ml.r5.large', 'ml.c5n.xlarge', 'ml.c6i.large', 'ml.m7i.large',
      'ml.inf1.xlarge', 'ml.inf2.xlarge', 'ml.p3.2xlarge', 'ml.t2.medium', 'ml.c7g.large'];
    expect(local.filter((i) => !hasLocalInstanceStorage(i))).toEqual([]);
    expect(ebs.filter((i) => hasLocalInstanceStorage(i))).toEqual([]);
  });

  test('a key named in cdk.json is used instead of a new one, and granted the same way', () => {
    const arn = 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';
    const { template: t } = synthStage(stageConfig('prod', { model: { kmsKeyArn: arn } }));
    t.resourceCountIs('AWS::KMS::Key', 0);
    expect(endpointConfig(t).KmsKeyId).toBe(arn);
    expect(kmsStatements(t).map((s) => s.Resource)).toEqual([arn, arn]);
  });

  test('a key named for a variant that takes none fails synth, naming the key and the reason', () => {
    const arn = 'arn:aws:kms:eu-west-1:123456789012:key/mrk-1234abcd12ab34cd56ef1234567890ab';
    expect(() => stageConfig('dev', { model: { kmsKeyArn: arn } }))
      .toThrow(/\(model\.kmsKeyArn\): a serverless endpoint takes no KMS key/);
    expect(() => stageConfig('prod', { model: { kmsKeyArn: arn, variant: { instanceType: 'ml.g5.xlarge' } } }))
      .toThrow(/\(model\.kmsKeyArn\): ml\.g5\.xlarge has local NVMe storage/);
    expect(() => stageConfig('prod', { model: { kmsKeyArn: 'alias/mine' } }))
      .toThrow(/\(model\.kmsKeyArn\): must be the ARN of a KMS key/);
    const stack = new Stack(testApp(), 'S');
    expect(() => new SageMakerEndpoint(stack, 'M', {
      image: ModelImage.builtinImageClassification(),
      variant: { type: 'instance', instanceType: 'ml.m5d.large', initialInstanceCount: 1 },
      storageKey: kms.Key.fromKeyArn(stack, 'K', arn),
    })).toThrow(/storageKey: ml\.m5d\.large has local NVMe storage/);
  });
});

describe('the execution role\'s trust', () => {
  test.each([['dev', dev], ['prod', prod], ['builtin', builtinProd]])(
    '%s: SageMaker may assume it only for this account (aws:SourceAccount) and its resources in this region (aws:SourceArn)', (_n, t) => {
      const [[, role]] = resourcesOf(t(), 'AWS::IAM::Role').filter(([id]) => id.startsWith('ModelExecutionRole'));
      expect((role.Properties.AssumeRolePolicyDocument as { Statement: Statement[] }).Statement).toEqual([{
        Action: 'sts:AssumeRole',
        Effect: 'Allow',
        Principal: { Service: 'sagemaker.amazonaws.com' },
        Condition: {
          StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
          ArnLike: {
            'aws:SourceArn': {
              'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':sagemaker:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':*']],
            },
          },
        },
      }]);
    },
  );
});

/**
 * The cdk-nag gate. cdk-nag 3.x reports findings through CDK's policy validation, which makes
 * synthesis throw; these tests synthesize every stage and model source under AwsSolutionsChecks,
 * and prove the gate can fail (a non-compliant construct, a dropped acknowledgement).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Stack, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import { addNagChecks, addStages } from '../lib/app';
import { parseStage, StageConfig } from '../lib/config';
import { FIXTURE, REPO_ROOT, stageConfig, testApp } from './helpers';

function synthWithNag(config: StageConfig): void {
  const app = testApp();
  addStages(app, [config], FIXTURE);
  addNagChecks(app);
  app.synth();
}

describe('AwsSolutionsChecks: zero unacknowledged findings', () => {
  const cases: [string, () => StageConfig][] = [
    ['dev (bundled, serverless)', () => stageConfig('dev')],
    ['prod (bundled, instance, autoscaling)', () => stageConfig('prod')],
    ['builtin', () => stageConfig('prod', { model: { source: 'builtin', modelDataUrl: 's3://training-bucket/model.tar.gz' } })],
    ['existing', () => stageConfig('dev', { model: { source: 'existing', endpointName: 'Ep', variant: undefined } })],
    ['with a WAF web ACL', () => stageConfig('dev', { api: { webAclArn: 'arn:aws:wafv2:us-east-1:123456789012:regional/webacl/w/1' } })],
    ['with an alarm e-mail (KMS-encrypted topic)', () => stageConfig('prod', { alarms: { email: 'ops@example.com' } })],
    ['with an existing alarm topic', () => stageConfig('dev', { alarms: { topicArn: 'arn:aws:sns:us-east-1:123456789012:oncall' } })],
    ['prod with a linear function rollout', () => stageConfig('prod', { rollout: { function: 'linear10PercentEvery1Minute' } })],
    ['prod with CORS (preflights and the /health 405 mock)', () => stageConfig('prod', { api: { corsAllowOrigin: '*' } })],
    ['prod on a local-storage instance type (no KMS key)', () => stageConfig('prod', { model: { variant: { instanceType: 'ml.g5.xlarge' } } })],
    ['prod with a KMS key named in cdk.json', () => stageConfig('prod', { model: { kmsKeyArn: 'arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab' } })],
    ['the example stage: an existing endpoint with inference components',
      () => parseStage('llm', JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'infra', 'examples', 'llm-stage.json'), 'utf8')))],
  ];
  test.each(cases)('%s', (_name, config) => {
    expect(() => synthWithNag(config())).not.toThrow();
  });
});

describe('the gate can fail', () => {
  test('a role with a wildcard policy fails synthesis with the rule id', () => {
    const app = testApp();
    const stack = new Stack(app, 'NonCompliant');
    const role = new iam.Role(stack, 'Role', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    role.addToPolicy(new iam.PolicyStatement({ actions: ['sagemaker:InvokeEndpoint'], resources: ['*'] }));
    addNagChecks(app);
    expect(() => Template.fromStack(stack)).toThrow(/AwsSolutions-IAM5\[Resource::\*\]/);
  });

  test('a stage whose acknowledgements are ignored fails synthesis', () => {
    // Disables every acknowledgement: each one in the constructs must be covering a real finding.
    const proto = Object.getPrototypeOf(Validations.of(testApp())) as { acknowledge: unknown };
    const original = proto.acknowledge;
    proto.acknowledge = () => undefined;
    try {
      expect(() => synthWithNag(stageConfig('prod'))).toThrow(/AwsSolutions-IAM5/);
    } finally {
      proto.acknowledge = original;
    }
  });
});

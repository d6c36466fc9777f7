/**
 * The `sagefront-ci` stack: one deploy role per stage, who may assume each (pinned claim by claim,
 * and evaluated against the tokens of real and forged jobs), what each may do, the configuration
 * errors, and the cdk-nag gate on it.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { addNagChecks, addStages } from '../lib/app';
import { CiConfig, parseCiConfig } from '../lib/ci-config';
import { addCiStack, tagApiKeysForCi } from '../lib/ci-stack';
import { ConfigError, StageConfig } from '../lib/config';
import { cdkJsonContext, FIXTURE, REPO_ROOT, resourcesOf, stageConfig, tempDir, testApp } from './helpers';

const REPO = 'octo-org/sagefront';
const STAGES = (): StageConfig[] => [stageConfig('dev'), stageConfig('prod')];

function ciConfig(raw: Record<string, unknown> = {}, stages = STAGES()): CiConfig {
  const config = parseCiConfig({ repository: REPO, ...raw }, {}, stages);
  if (!config) throw new Error('expected a CI config');
  return config;
}

function synthCi(config: CiConfig = ciConfig(), opts: { nag?: boolean } = {}): Template {
  const app = testApp();
  const stack = addCiStack(app, config);
  if (opts.nag) addNagChecks(app);
  return Template.fromStack(stack);
}

type Statement = {
  Effect: string;
  Action: string | string[];
  Principal?: { Federated: unknown };
  Resource?: unknown;
  Condition?: Record<string, Record<string, string | string[]>>;
  Sid?: string;
};

type Resource = { Type: string; Properties: Record<string, unknown> };

/** The deploy role of `stage` (found through its output, which names the environment). */
function roleIdOf(template: Template, stage: string): string {
  const outputs = Object.values(template.toJSON().Outputs as Record<string, { Description: string; Value: { 'Fn::GetAtt': [string, string] } }>)
    .filter((o) => o.Description === `Variable AWS_DEPLOY_ROLE_ARN of the GitHub environment ${stage}`);
  expect(outputs).toHaveLength(1);
  return outputs[0].Value['Fn::GetAtt'][0];
}

function roleOf(template: Template, stage: string): { AssumeRolePolicyDocument: { Statement: Statement[] } } {
  const resources = template.toJSON().Resources as Record<string, Resource>;
  return resources[roleIdOf(template, stage)].Properties as unknown as { AssumeRolePolicyDocument: { Statement: Statement[] } };
}

function trustStatement(template: Template, stage: string): Statement {
  const statements = roleOf(template, stage).AssumeRolePolicyDocument.Statement;
  expect(statements).toHaveLength(1);
  return statements[0];
}

/** The statements of the one inline policy attached to `stage`'s role. */
function policyStatements(template: Template, stage: string): Statement[] {
  const roleId = roleIdOf(template, stage);
  const policies = resourcesOf(template, 'AWS::IAM::Policy')
    .filter(([, p]) => JSON.stringify(p.Properties.Roles) === JSON.stringify([{ Ref: roleId }]));
  expect(policies).toHaveLength(1);
  return (policies[0][1].Properties.PolicyDocument as { Statement: Statement[] }).Statement;
}

/** The claims of a GitHub OIDC token (only those IAM's trust policy can see matter here). */
type Claims = { sub: string; aud?: string; ref?: string; job_workflow_ref?: string };

const DEPLOY_WORKFLOW = 'octo-org/sagefront/.github/workflows/deploy-stage.yml';

/** The token of a deploy job in `environment`, run from `main` through deploy-stage.yml. */
function deployJob(environment: string, patch: Partial<Claims> = {}): Claims {
  return {
    sub: `repo:octo-org/sagefront:environment:${environment}`,
    aud: 'sts.amazonaws.com',
    ref: 'refs/heads/main',
    job_workflow_ref: `${DEPLOY_WORKFLOW}@refs/heads/main`,
    ...patch,
  };
}

/**
 * Evaluates `stage`'s trust policy for a token, as IAM does for StringEquals: every key must be
 * present in the token and equal one of the values (a missing claim fails the condition).
 */
function trusts(template: Template, stage: string, claims: Claims): boolean {
  const conditions = trustStatement(template, stage).Condition ?? {};
  const operators = Object.keys(conditions);
  if (operators.some((op) => op !== 'StringEquals')) throw new Error(`unexpected operators ${operators}`);
  const values: Record<string, string | undefined> = Object.fromEntries(
    Object.entries(claims).map(([k, v]) => [`token.actions.githubusercontent.com:${k}`, v]),
  );
  return Object.entries(conditions.StringEquals).every(([key, allowed]) =>
    values[key] !== undefined && ([] as string[]).concat(allowed).includes(values[key] as string));
}

describe('trust: one role per stage, each only for its own environment, on main, in deploy-stage.yml', () => {
  const template = synthCi();

  test('one role per stage, each with one output for its GitHub environment', () => {
    template.resourceCountIs('AWS::IAM::Role', 2);
    expect(roleIdOf(template, 'dev')).not.toBe(roleIdOf(template, 'prod'));
  });

  test.each(['dev', 'prod'])('%s: one statement, AssumeRoleWithWebIdentity from the GitHub provider, StringEquals only', (stage) => {
    const st = trustStatement(template, stage);
    expect(st.Effect).toBe('Allow');
    expect(st.Action).toBe('sts:AssumeRoleWithWebIdentity');
    const [providerId] = Object.keys(template.findResources('AWS::IAM::OIDCProvider'));
    expect(st.Principal).toEqual({ Federated: { Ref: providerId } });
    expect(Object.keys(st.Condition ?? {})).toEqual(['StringEquals']);
    expect(JSON.stringify(st)).not.toMatch(/StringLike|IfExists|ForAllValues|\*/);
  });

  test('the dev role: exactly the dev environment, refs/heads/main and deploy-stage.yml on main', () => {
    expect(trustStatement(template, 'dev').Condition).toEqual({
      StringEquals: {
        'token.actions.githubusercontent.com:aud': 'sts.amazonaws.com',
        'token.actions.githubusercontent.com:sub': 'repo:octo-org/sagefront:environment:dev',
        'token.actions.githubusercontent.com:ref': 'refs/heads/main',
        'token.actions.githubusercontent.com:job_workflow_ref': `${DEPLOY_WORKFLOW}@refs/heads/main`,
      },
    });
  });

  test('the prod role: exactly the prod environment, and the main-branch restriction (ref and job_workflow_ref)', () => {
    expect(trustStatement(template, 'prod').Condition).toEqual({
      StringEquals: {
        'token.actions.githubusercontent.com:aud': 'sts.amazonaws.com',
        'token.actions.githubusercontent.com:sub': 'repo:octo-org/sagefront:environment:prod',
        'token.actions.githubusercontent.com:ref': 'refs/heads/main',
        'token.actions.githubusercontent.com:job_workflow_ref': `${DEPLOY_WORKFLOW}@refs/heads/main`,
      },
    });
  });

  test.each([
    ['dev', 'the dev deploy job', deployJob('dev'), true],
    ['dev', 'the prod deploy job (prod\'s sub)', deployJob('prod'), false],
    ['prod', 'the prod deploy job', deployJob('prod'), true],
    ['prod', 'the dev deploy job (dev\'s sub)', deployJob('dev'), false],
    ['prod', 'a prod job of a run started from another branch', deployJob('prod', { ref: 'refs/heads/feature', job_workflow_ref: `${DEPLOY_WORKFLOW}@refs/heads/feature` }), false],
    ['prod', 'a prod job whose workflow file comes from another branch', deployJob('prod', { job_workflow_ref: `${DEPLOY_WORKFLOW}@refs/heads/feature` }), false],
    ['prod', 'a prod job of a pull request (merge ref)', deployJob('prod', { ref: 'refs/pull/7/merge', job_workflow_ref: `${DEPLOY_WORKFLOW}@refs/pull/7/merge` }), false],
    ['prod', 'a prod job of a tag', deployJob('prod', { ref: 'refs/tags/v1', job_workflow_ref: `${DEPLOY_WORKFLOW}@refs/tags/v1` }), false],
    ['prod', 'a prod job in another workflow file on main', deployJob('prod', { job_workflow_ref: 'octo-org/sagefront/.github/workflows/other.yml@refs/heads/main' }), false],
    ['prod', 'a prod job in a reusable workflow of another repository', deployJob('prod', { job_workflow_ref: 'evil/x/.github/workflows/deploy-stage.yml@refs/heads/main' }), false],
    ['prod', 'a token without ref', deployJob('prod', { ref: undefined }), false],
    ['prod', 'a token without job_workflow_ref', deployJob('prod', { job_workflow_ref: undefined }), false],
    ['prod', 'a job outside any environment on main', deployJob('prod', { sub: 'repo:octo-org/sagefront:ref:refs/heads/main' }), false],
    ['prod', 'a pull request without environment', deployJob('prod', { sub: 'repo:octo-org/sagefront:pull_request' }), false],
    ['prod', 'an unknown environment', deployJob('staging'), false],
    ['prod', 'another repository of the owner', deployJob('prod', { sub: 'repo:octo-org/other:environment:prod' }), false],
    ['prod', 'a fork', deployJob('prod', { sub: 'repo:someone/sagefront:environment:prod' }), false],
    ['prod', 'a different case (IAM compares case-sensitively)', deployJob('prod', { sub: 'repo:Octo-Org/sagefront:environment:prod' }), false],
    ['prod', 'another audience', deployJob('prod', { aud: 'https://github.com/octo-org' }), false],
  ])('%s role, %s → %s', (stage, _what, claims, expected) => {
    expect(trusts(template, stage, claims)).toBe(expected);
  });

  test('the branch follows the configuration', () => {
    const t = synthCi(ciConfig({ branch: 'release' }));
    expect(trustStatement(t, 'prod').Condition?.StringEquals).toMatchObject({
      'token.actions.githubusercontent.com:ref': 'refs/heads/release',
      'token.actions.githubusercontent.com:job_workflow_ref': `${DEPLOY_WORKFLOW}@refs/heads/release`,
    });
    expect(trusts(t, 'prod', deployJob('prod'))).toBe(false);
  });

  test('immutable subjects: ownerId and repositoryId put the ids in sub, not in job_workflow_ref', () => {
    const t = synthCi(ciConfig({ ownerId: '123456', repositoryId: '456789' }));
    expect(trustStatement(t, 'prod').Condition?.StringEquals).toMatchObject({
      'token.actions.githubusercontent.com:sub': 'repo:octo-org@123456/sagefront@456789:environment:prod',
      'token.actions.githubusercontent.com:job_workflow_ref': `${DEPLOY_WORKFLOW}@refs/heads/main`,
    });
    expect(trusts(t, 'prod', deployJob('prod'))).toBe(false);
    expect(trusts(t, 'prod', deployJob('prod', { sub: 'repo:octo-org@123456/sagefront@456789:environment:prod' }))).toBe(true);
  });

  test('a stage added to cdk.json gets its own role for its own environment', () => {
    const t = synthCi(ciConfig({}, [...STAGES(), stageConfig('staging', {}, 'dev')]));
    t.resourceCountIs('AWS::IAM::Role', 3);
    expect(trusts(t, 'staging', deployJob('staging'))).toBe(true);
    expect(trusts(t, 'staging', deployJob('dev'))).toBe(false);
    expect(trusts(t, 'prod', deployJob('staging'))).toBe(false);
  });

  test('sessions last at most two hours (the deploy job asks for exactly that)', () => {
    const roles = resourcesOf(template, 'AWS::IAM::Role');
    expect(roles.map(([, r]) => r.Properties.MaxSessionDuration)).toEqual([7200, 7200]);
  });
});

describe('OIDC provider', () => {
  test('create: GitHub\'s issuer with the STS audience', () => {
    const t = synthCi();
    t.resourceCountIs('AWS::IAM::OIDCProvider', 1);
    t.hasResourceProperties('AWS::IAM::OIDCProvider', {
      Url: 'https://token.actions.githubusercontent.com',
      ClientIdList: ['sts.amazonaws.com'],
    });
    t.resourceCountIs('AWS::Lambda::Function', 0); // native resource, no custom-resource Lambda
  });

  test('import: no provider resource; every role trusts the account\'s existing GitHub provider', () => {
    const t = synthCi(ciConfig({ oidcProvider: 'import' }));
    t.resourceCountIs('AWS::IAM::OIDCProvider', 0);
    for (const stage of ['dev', 'prod']) {
      expect(trustStatement(t, stage).Principal).toEqual({
        Federated: {
          'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::', { Ref: 'AWS::AccountId' },
            ':oidc-provider/token.actions.githubusercontent.com']],
        },
      });
    }
  });

  test('the -c oidcProvider override wins over cdk.json', () => {
    expect(parseCiConfig({ repository: REPO, oidcProvider: 'create' }, { oidcProvider: 'import' }, STAGES())?.oidcProvider)
      .toBe('import');
  });
});

describe('permissions: each role, its stage\'s bootstrap roles and its stage\'s API key, nothing else', () => {
  const template = synthCi();
  const bootstrapRole = (kind: string) => ({
    'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::', { Ref: 'AWS::AccountId' },
      `:role/cdk-hnb659fds-${kind}-role-`, { Ref: 'AWS::AccountId' }, '-', { Ref: 'AWS::Region' }]],
  });

  test.each(['dev', 'prod'])('%s: exactly two statements, only sts:AssumeRole/TagSession and apigateway:GET', (stage) => {
    const statements = policyStatements(template, stage);
    expect(statements.map((s) => s.Sid)).toEqual(['AssumeCdkBootstrapRoles', 'ReadStageApiKey']);
    expect(statements.every((s) => s.Effect === 'Allow')).toBe(true);
    expect(statements.flatMap((s) => ([] as string[]).concat(s.Action)).sort())
      .toEqual(['apigateway:GET', 'sts:AssumeRole', 'sts:TagSession']);
  });

  test('no managed policies, no other inline policies: one policy per role', () => {
    template.resourceCountIs('AWS::IAM::ManagedPolicy', 0);
    template.resourceCountIs('AWS::IAM::Policy', 2);
    template.allResourcesProperties('AWS::IAM::Role', { ManagedPolicyArns: Match.absent(), Policies: Match.absent() });
  });

  test.each(['dev', 'prod'])('%s: may assume the deploy and publishing bootstrap roles of its account and region, not the lookup role', (stage) => {
    const [assume] = policyStatements(template, stage);
    expect(assume.Resource).toEqual(['deploy', 'file-publishing', 'image-publishing'].map(bootstrapRole));
    expect(JSON.stringify(assume.Resource)).not.toMatch(/lookup|\*/);
  });

  test.each(['dev', 'prod'])('%s: may GET only API keys tagged project=sagefront and its own stage', (stage) => {
    const [, read] = policyStatements(template, stage);
    expect(read.Resource).toEqual({
      'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':apigateway:', { Ref: 'AWS::Region' }, '::/apikeys/*']],
    });
    expect(read.Condition).toEqual({
      StringEquals: { 'aws:ResourceTag/project': 'sagefront', 'aws:ResourceTag/stage': stage },
    });
  });

  test('stages pinned to regions: each role reaches only its own region, with a custom bootstrap qualifier', () => {
    const stages = [
      stageConfig('dev', { env: { region: 'eu-west-1' } }),
      stageConfig('prod', { env: { region: 'us-east-1' } }),
    ];
    const t = synthCi(ciConfig({ bootstrapQualifier: 'sage1' }, stages));
    for (const [stage, region, other] of [['dev', 'eu-west-1', 'us-east-1'], ['prod', 'us-east-1', 'eu-west-1']]) {
      const [assume, read] = policyStatements(t, stage);
      const resources = JSON.stringify(assume.Resource);
      for (const kind of ['deploy', 'file-publishing', 'image-publishing']) {
        expect(resources).toContain(`:role/cdk-sage1-${kind}-role-",{"Ref":"AWS::AccountId"},"-${region}"`);
      }
      expect(resources).not.toMatch(new RegExp(`AWS::Region|${other}`));
      expect(JSON.stringify(read.Resource)).toContain(`apigateway:${region}::/apikeys/*`);
      expect(JSON.stringify(read.Resource)).not.toContain(other);
    }
    expect(() => synthCi(ciConfig({}, stages), { nag: true })).not.toThrow();
  });

  test('outputs each role\'s ARN for the AWS_DEPLOY_ROLE_ARN variable of its environment', () => {
    template.hasOutput('DeployRoleArnDev', { Value: { 'Fn::GetAtt': [roleIdOf(template, 'dev'), 'Arn'] } });
    template.hasOutput('DeployRoleArnProd', { Value: { 'Fn::GetAtt': [roleIdOf(template, 'prod'), 'Arn'] } });
  });
});

describe('stage API keys carry the tags the role matches', () => {
  // As bin/app.ts does: tag before synthesis (tags are an aspect).
  function taggedProd(): Template {
    const [stack] = addStages(testApp(), [stageConfig('prod')], FIXTURE);
    tagApiKeysForCi(stack, 'prod');
    return Template.fromStack(stack);
  }

  test('prod\'s key is tagged project and stage in the template', () => {
    const keys = resourcesOf(taggedProd(), 'AWS::ApiGateway::ApiKey');
    expect(keys).toHaveLength(1);
    expect(keys[0][1].Properties.Tags).toEqual(expect.arrayContaining([
      { Key: 'project', Value: 'sagefront' }, { Key: 'stage', Value: 'prod' },
    ]));
  });

  test('no other resource gets the tags', () => {
    const tagged = Object.entries(taggedProd().toJSON().Resources as Record<string, { Type: string; Properties?: { Tags?: unknown } }>)
      .filter(([, r]) => JSON.stringify(r.Properties?.Tags ?? []).includes('"stage"'))
      .map(([, r]) => r.Type);
    expect(tagged).toEqual(['AWS::ApiGateway::ApiKey']);
  });
});

describe('cdk-nag', () => {
  test('zero unacknowledged findings (create and import)', () => {
    expect(() => synthCi(ciConfig(), { nag: true })).not.toThrow();
    expect(() => synthCi(ciConfig({ oidcProvider: 'import' }), { nag: true })).not.toThrow();
  });

  test('the gate can fail: without the acknowledgement the API key wildcard is a finding', () => {
    const proto = Object.getPrototypeOf(Validations.of(new Stack(testApp()))) as { acknowledge: unknown };
    const original = proto.acknowledge;
    proto.acknowledge = () => undefined;
    try {
      expect(() => synthCi(ciConfig(), { nag: true })).toThrow(/AwsSolutions-IAM5\[Resource::arn:<AWS::Partition>:apigateway:<AWS::Region>::\/apikeys\/\*\]/);
    } finally {
      proto.acknowledge = original;
    }
  });
});

describe('configuration', () => {
  test('no repository: no CI stack', () => {
    expect(parseCiConfig(undefined, {}, STAGES())).toBeUndefined();
    expect(parseCiConfig({ branch: 'main' }, {}, STAGES())).toBeUndefined();
  });

  test('-c githubRepository wins over cdk.json; defaults: main, name-only subjects, create, every stage', () => {
    expect(parseCiConfig({ repository: 'a/b' }, { repository: REPO }, STAGES())).toEqual({
      repository: REPO,
      branch: 'main',
      oidcProvider: 'create',
      bootstrapQualifier: 'hnb659fds',
      stages: [{ stageName: 'dev', region: undefined }, { stageName: 'prod', region: undefined }],
    });
  });

  test('ownerId and repositoryId together select the immutable subject format', () => {
    expect(parseCiConfig({ repository: REPO, ownerId: '1', repositoryId: '2' }, {}, STAGES())?.repositoryIds)
      .toEqual({ owner: '1', repository: '2' });
  });

  test.each([
    [{ repository: 'sagefront' }, /sagefront:ci.repository must be OWNER\/REPO/],
    [{ repository: 'octo-org/*' }, /sagefront:ci.repository must be OWNER\/REPO/],
    [{ repository: 'octo-org/sagefront:environment:prod' }, /repository must be OWNER\/REPO/],
    [{ repository: REPO, branch: 'release/*' }, /sagefront:ci.branch must be a branch name without wildcards/],
    [{ repository: REPO, branch: 'a..b' }, /sagefront:ci.branch/],
    [{ repository: REPO, environments: ['dev', 'prod'] }, /sagefront:ci.environments is no longer a setting: every stage gets its own deploy role/],
    [{ repository: REPO, ownerId: '123' }, /sagefront:ci.repositoryId must be set together with ownerId/],
    [{ repository: REPO, repositoryId: '456' }, /sagefront:ci.ownerId must be set together with repositoryId/],
    [{ repository: REPO, ownerId: 123, repositoryId: '456' }, /sagefront:ci.ownerId must be the numeric id/],
    [{ repository: REPO, ownerId: '1', repositoryId: '45x' }, /sagefront:ci.repositoryId must be the numeric id/],
    [{ repository: REPO, oidcProvider: 'maybe' }, /sagefront:ci.oidcProvider must be "create" .* or "import"/],
    [{ repository: REPO, bootstrapQualifier: 'much-too-long-qualifier' }, /sagefront:ci.bootstrapQualifier/],
    [{ repository: REPO, role: 'x' }, /sagefront:ci.role is not a known key/],
  ])('%j is rejected', (raw, message) => {
    expect(() => parseCiConfig(raw, {}, STAGES())).toThrow(ConfigError);
    expect(() => parseCiConfig(raw, {}, STAGES())).toThrow(message);
  });

  test('a non-object context is rejected', () => {
    expect(() => parseCiConfig('octo-org/sagefront', {}, STAGES())).toThrow(/"sagefront:ci" must be an object/);
  });
});

describe('bin/app.ts', () => {
  // Runs the real entry point the way the CDK CLI does (context and outdir through the
  // environment), with bundling skipped.
  function runApp(extra: Record<string, unknown>): { status: number | null; stderr: string; outdir: string } {
    const outdir = tempDir('sagefront-app-');
    const context = { ...cdkJsonContext(), 'aws:cdk:bundling-stacks': [], ...extra };
    const res = spawnSync(process.execPath, ['-r', 'ts-node/register/transpile-only', path.join(REPO_ROOT, 'infra/bin/app.ts')], {
      cwd: REPO_ROOT,
      env: { ...process.env, CDK_OUTDIR: outdir, CDK_CONTEXT_JSON: JSON.stringify(context) },
      encoding: 'utf8',
    });
    return { status: res.status, stderr: res.stderr, outdir };
  }

  test('adds sagefront-ci (one role per stage) for -c githubRepository and tags every stage\'s API key', () => {
    const { status, stderr, outdir } = runApp({ githubRepository: REPO });
    expect(stderr).toBe('');
    expect(status).toBe(0);
    const manifest = JSON.parse(fs.readFileSync(path.join(outdir, 'manifest.json'), 'utf8'));
    expect(Object.keys(manifest.artifacts)).toEqual(expect.arrayContaining(['sagefront-dev', 'sagefront-prod', 'sagefront-ci']));
    const ci = JSON.parse(fs.readFileSync(path.join(outdir, 'sagefront-ci.template.json'), 'utf8'));
    expect(Object.keys(ci.Outputs).filter((k) => k.startsWith('DeployRoleArn')).sort()).toEqual(['DeployRoleArnDev', 'DeployRoleArnProd']);
    const prod = JSON.parse(fs.readFileSync(path.join(outdir, 'sagefront-prod.template.json'), 'utf8'));
    const key = Object.values(prod.Resources as Record<string, { Type: string; Properties: { Tags?: unknown } }>)
      .find((r) => r.Type === 'AWS::ApiGateway::ApiKey');
    expect(key?.Properties.Tags).toEqual(expect.arrayContaining([{ Key: 'stage', Value: 'prod' }]));
  });

  test('a bad repository stops synthesis with the key in the message', () => {
    const { status, stderr } = runApp({ githubRepository: 'not-a-repo' });
    expect(status).toBe(1);
    expect(stderr).toMatch(/^sagefront: sagefront:ci.repository must be OWNER\/REPO/);
  });
});

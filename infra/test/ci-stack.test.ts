/**
 * The `sagefront-ci` stack: who may assume the GitHub deploy role (pinned claim by claim), what
 * the role may do, its configuration errors, and the cdk-nag gate on it.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { addNagChecks, addStages } from '../lib/app';
import { CiConfig, parseCiConfig } from '../lib/ci-config';
import { addCiStack, tagApiKeysForCi } from '../lib/ci-stack';
import { ConfigError, StageConfig } from '../lib/config';
import { cdkJsonContext, FIXTURE, REPO_ROOT, resourcesOf, stageConfig, testApp } from './helpers';

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

function roleOf(template: Template): { AssumeRolePolicyDocument: { Statement: Statement[] } } {
  const roles = resourcesOf(template, 'AWS::IAM::Role');
  expect(roles).toHaveLength(1);
  return roles[0][1].Properties as unknown as { AssumeRolePolicyDocument: { Statement: Statement[] } };
}

function trustStatement(template: Template): Statement {
  const statements = roleOf(template).AssumeRolePolicyDocument.Statement;
  expect(statements).toHaveLength(1);
  return statements[0];
}

function policyStatements(template: Template): Statement[] {
  const policies = resourcesOf(template, 'AWS::IAM::Policy');
  expect(policies).toHaveLength(1);
  return (policies[0][1].Properties.PolicyDocument as { Statement: Statement[] }).Statement;
}

/** Evaluates the trust policy's conditions for a token's claims, as IAM's StringEquals does. */
function trusts(template: Template, claims: { sub: string; aud?: string }): boolean {
  const conditions = trustStatement(template).Condition ?? {};
  const operators = Object.keys(conditions);
  if (operators.some((op) => op !== 'StringEquals')) throw new Error(`unexpected operators ${operators}`);
  const values: Record<string, string> = {
    'token.actions.githubusercontent.com:sub': claims.sub,
    'token.actions.githubusercontent.com:aud': claims.aud ?? 'sts.amazonaws.com',
  };
  return Object.entries(conditions.StringEquals).every(([key, allowed]) =>
    key in values && ([] as string[]).concat(allowed).includes(values[key]));
}

describe('trust: only this repository\'s main branch and its deployment environments', () => {
  const template = synthCi();

  test('one statement: AssumeRoleWithWebIdentity from the GitHub provider, StringEquals only', () => {
    const st = trustStatement(template);
    expect(st.Effect).toBe('Allow');
    expect(st.Action).toBe('sts:AssumeRoleWithWebIdentity');
    const [providerId] = Object.keys(template.findResources('AWS::IAM::OIDCProvider'));
    expect(st.Principal).toEqual({ Federated: { Ref: providerId } });
    expect(Object.keys(st.Condition ?? {})).toEqual(['StringEquals']);
    expect(JSON.stringify(st)).not.toMatch(/StringLike|\*/);
  });

  test('aud is sts.amazonaws.com and sub is exactly the branch push plus one claim per environment', () => {
    expect(trustStatement(template).Condition).toEqual({
      StringEquals: {
        'token.actions.githubusercontent.com:aud': 'sts.amazonaws.com',
        'token.actions.githubusercontent.com:sub': [
          'repo:octo-org/sagefront:ref:refs/heads/main',
          'repo:octo-org/sagefront:environment:dev',
          'repo:octo-org/sagefront:environment:prod',
        ],
      },
    });
  });

  test.each([
    ['a push to main', 'repo:octo-org/sagefront:ref:refs/heads/main', true],
    ['a job in environment dev', 'repo:octo-org/sagefront:environment:dev', true],
    ['a job in environment prod', 'repo:octo-org/sagefront:environment:prod', true],
    ['another branch', 'repo:octo-org/sagefront:ref:refs/heads/feature', false],
    ['a branch named like main', 'repo:octo-org/sagefront:ref:refs/heads/main-2', false],
    ['a tag', 'repo:octo-org/sagefront:ref:refs/tags/v1', false],
    ['a pull request', 'repo:octo-org/sagefront:pull_request', false],
    ['an unknown environment', 'repo:octo-org/sagefront:environment:staging', false],
    ['another repository of the owner', 'repo:octo-org/other:environment:prod', false],
    ['a fork', 'repo:someone/sagefront:ref:refs/heads/main', false],
    ['a different case (IAM compares case-sensitively)', 'repo:Octo-Org/sagefront:environment:prod', false],
  ])('%s: %s → %s', (_what, sub, expected) => {
    expect(trusts(template, { sub })).toBe(expected);
  });

  test('a token for another audience is refused', () => {
    expect(trusts(template, { sub: 'repo:octo-org/sagefront:environment:prod', aud: 'https://github.com/octo-org' })).toBe(false);
  });

  test('environments and branch follow the configuration', () => {
    const t = synthCi(ciConfig({ branch: 'release', environments: ['staging'] }));
    expect(trustStatement(t).Condition?.StringEquals['token.actions.githubusercontent.com:sub']).toEqual([
      'repo:octo-org/sagefront:ref:refs/heads/release',
      'repo:octo-org/sagefront:environment:staging',
    ]);
  });

  test('sessions last at most two hours (the deploy job asks for exactly that)', () => {
    template.hasResourceProperties('AWS::IAM::Role', { MaxSessionDuration: 7200 });
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

  test('import: no provider resource; the role trusts the account\'s existing GitHub provider', () => {
    const t = synthCi(ciConfig({ oidcProvider: 'import' }));
    t.resourceCountIs('AWS::IAM::OIDCProvider', 0);
    expect(trustStatement(t).Principal).toEqual({
      Federated: {
        'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::', { Ref: 'AWS::AccountId' },
          ':oidc-provider/token.actions.githubusercontent.com']],
      },
    });
  });

  test('the -c oidcProvider override wins over cdk.json', () => {
    expect(parseCiConfig({ repository: REPO, oidcProvider: 'create' }, { oidcProvider: 'import' }, STAGES())?.oidcProvider)
      .toBe('import');
  });
});

describe('permissions: the CDK bootstrap roles and the stages\' API keys, nothing else', () => {
  const template = synthCi();
  const bootstrapRole = (kind: string) => ({
    'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::', { Ref: 'AWS::AccountId' },
      `:role/cdk-hnb659fds-${kind}-role-`, { Ref: 'AWS::AccountId' }, '-', { Ref: 'AWS::Region' }]],
  });

  test('exactly two statements, only sts:AssumeRole/TagSession and apigateway:GET', () => {
    const statements = policyStatements(template);
    expect(statements.map((s) => s.Sid)).toEqual(['AssumeCdkBootstrapRoles', 'ReadStageApiKeys']);
    expect(statements.every((s) => s.Effect === 'Allow')).toBe(true);
    expect(statements.flatMap((s) => ([] as string[]).concat(s.Action)).sort())
      .toEqual(['apigateway:GET', 'sts:AssumeRole', 'sts:TagSession']);
    template.resourceCountIs('AWS::IAM::ManagedPolicy', 0);
    template.hasResourceProperties('AWS::IAM::Role', { ManagedPolicyArns: Match.absent(), Policies: Match.absent() });
  });

  test('may assume the deploy and publishing bootstrap roles of its account and region, not the lookup role', () => {
    const [assume] = policyStatements(template);
    expect(assume.Resource).toEqual(['deploy', 'file-publishing', 'image-publishing'].map(bootstrapRole));
    expect(JSON.stringify(assume.Resource)).not.toMatch(/lookup|\*/);
  });

  test('may GET only API keys tagged project=sagefront and one of the stages', () => {
    const [, read] = policyStatements(template);
    expect(read.Resource).toEqual({
      'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':apigateway:', { Ref: 'AWS::Region' }, '::/apikeys/*']],
    });
    expect(read.Condition).toEqual({
      StringEquals: { 'aws:ResourceTag/project': 'sagefront', 'aws:ResourceTag/stage': ['dev', 'prod'] },
    });
  });

  test('a custom bootstrap qualifier and stages pinned to regions', () => {
    const stages = [
      stageConfig('dev', { env: { region: 'eu-west-1' } }),
      stageConfig('prod', { env: { region: 'us-east-1' } }),
    ];
    const t = synthCi(ciConfig({ bootstrapQualifier: 'sage1' }, stages));
    const [assume, read] = policyStatements(t);
    const resources = JSON.stringify(assume.Resource);
    for (const region of ['eu-west-1', 'us-east-1']) {
      for (const kind of ['deploy', 'file-publishing', 'image-publishing']) {
        expect(resources).toContain(`:role/cdk-sage1-${kind}-role-",{"Ref":"AWS::AccountId"},"-${region}"`);
      }
    }
    expect(resources).not.toContain('AWS::Region');
    expect(JSON.stringify(read.Resource)).toMatch(/apigateway:eu-west-1::\/apikeys\/\*.*apigateway:us-east-1::\/apikeys\/\*/);
    expect(() => synthCi(ciConfig({}, stages), { nag: true })).not.toThrow();
  });

  test('outputs the role ARN for the AWS_DEPLOY_ROLE_ARN repository variable', () => {
    template.hasOutput('DeployRoleArn', { Value: { 'Fn::GetAtt': [Match.anyValue(), 'Arn'] } });
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
    const proto = Object.getPrototypeOf(Validations.of(new Stack())) as { acknowledge: unknown };
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

  test('-c githubRepository wins over cdk.json; defaults: main, one environment per stage, create', () => {
    expect(parseCiConfig({ repository: 'a/b' }, { repository: REPO }, STAGES())).toEqual({
      repository: REPO,
      branch: 'main',
      environments: ['dev', 'prod'],
      oidcProvider: 'create',
      bootstrapQualifier: 'hnb659fds',
      stageNames: ['dev', 'prod'],
      regions: [undefined],
    });
  });

  test.each([
    [{ repository: 'sagefront' }, /sagefront:ci.repository must be OWNER\/REPO/],
    [{ repository: 'octo-org/*' }, /sagefront:ci.repository must be OWNER\/REPO/],
    [{ repository: 'octo-org/sagefront:environment:prod' }, /repository must be OWNER\/REPO/],
    [{ repository: REPO, branch: 'release/*' }, /sagefront:ci.branch must be a branch name without wildcards/],
    [{ repository: REPO, branch: 'a..b' }, /sagefront:ci.branch/],
    [{ repository: REPO, environments: [] }, /sagefront:ci.environments must be a non-empty list/],
    [{ repository: REPO, environments: 'prod' }, /sagefront:ci.environments must be a non-empty list/],
    [{ repository: REPO, environments: ['prod*'] }, /sagefront:ci.environments has "prod\*"/],
    [{ repository: REPO, environments: ['a:b'] }, /sagefront:ci.environments has "a:b"/],
    [{ repository: REPO, environments: ['dev', 'dev'] }, /lists a name twice/],
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
    const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'sagefront-app-'));
    const context = { ...cdkJsonContext(), 'aws:cdk:bundling-stacks': [], ...extra };
    const res = spawnSync(process.execPath, ['-r', 'ts-node/register/transpile-only', path.join(REPO_ROOT, 'infra/bin/app.ts')], {
      cwd: REPO_ROOT,
      env: { ...process.env, CDK_OUTDIR: outdir, CDK_CONTEXT_JSON: JSON.stringify(context) },
      encoding: 'utf8',
    });
    return { status: res.status, stderr: res.stderr, outdir };
  }

  test('adds sagefront-ci for -c githubRepository and tags every stage\'s API key', () => {
    const { status, stderr, outdir } = runApp({ githubRepository: REPO });
    expect(stderr).toBe('');
    expect(status).toBe(0);
    const manifest = JSON.parse(fs.readFileSync(path.join(outdir, 'manifest.json'), 'utf8'));
    expect(Object.keys(manifest.artifacts)).toEqual(expect.arrayContaining(['sagefront-dev', 'sagefront-prod', 'sagefront-ci']));
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

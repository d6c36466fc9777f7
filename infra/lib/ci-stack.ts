/**
 * `sagefront-ci`: what GitHub Actions needs to deploy the stages without long-lived keys — the
 * account's GitHub OIDC provider (created, or the existing one imported) and a deploy role that
 * only this repository's `main` branch and its deployment environments can assume, and that may
 * only assume the CDK bootstrap roles and read the stages' API keys for the smoke test.
 */
import { Aws, CfnOutput, Duration, Stack, StackProps, Tags, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { CI_STACK_NAME, CiConfig } from './ci-config';

/** GitHub Actions' OIDC issuer (host and path of the `iss` claim). */
export const GITHUB_OIDC_HOST = 'token.actions.githubusercontent.com';
/** The audience `aws-actions/configure-aws-credentials` requests. */
export const GITHUB_OIDC_AUDIENCE = 'sts.amazonaws.com';

/** The CDK bootstrap roles `cdk deploy --app cdk.out` uses (no lookups: synth happens offline). */
export const BOOTSTRAP_ROLE_KINDS = ['deploy', 'file-publishing', 'image-publishing'] as const;

/** Properties of {@link GitHubDeployRole}. */
export interface GitHubDeployRoleProps {
  /** The account's IAM OIDC provider for {@link GITHUB_OIDC_HOST}. */
  readonly provider: iam.IOidcProvider;
  /** `OWNER/REPO` as GitHub spells it. */
  readonly repository: string;
  /** Branch whose non-environment jobs may assume the role. */
  readonly branch: string;
  /** Deployment environments whose jobs may assume the role. */
  readonly environments: readonly string[];
  /** ARNs of the roles the deploy role may assume (the CDK bootstrap roles). */
  readonly assumableRoleArns: readonly string[];
  /**
   * API keys the role may read (`apigateway:GET`, for the smoke test): regions, and the tags a
   * key must carry.
   * @default no API key access
   */
  readonly apiKeys?: {
    readonly regions: readonly string[];
    readonly resourceTags: Readonly<Record<string, string | readonly string[]>>;
  };
  /**
   * Longest session of the role. The CDK CLI re-assumes the bootstrap roles (one hour each) with
   * this session while a deploy runs, so this bounds one stage's deploy: image build, endpoint
   * update and any gradual Lambda rollout.
   * @default 2 hours
   */
  readonly maxSessionDuration?: Duration;
}

/** The `sub` claims GitHub issues for a branch push and for environment jobs, in that order. */
export function githubSubjects(repository: string, branch: string, environments: readonly string[]): string[] {
  return [
    `repo:${repository}:ref:refs/heads/${branch}`,
    ...environments.map((e) => `repo:${repository}:environment:${e}`),
  ];
}

/** An IAM role for GitHub Actions' OIDC tokens, trusted by exact `sub` and `aud` only. */
export class GitHubDeployRole extends Construct {
  readonly role: iam.Role;

  constructor(scope: Construct, id: string, props: GitHubDeployRoleProps) {
    super(scope, id);
    if (props.environments.length === 0 && !props.branch) {
      throw new Error('GitHubDeployRole needs a branch or at least one environment');
    }
    this.role = new iam.Role(this, 'Role', {
      description: `GitHub Actions deployments of ${props.repository} (${props.branch} and environments ${props.environments.join(', ')})`,
      maxSessionDuration: props.maxSessionDuration ?? Duration.hours(2),
      // StringEquals on both claims: no wildcards, so a fork, another branch, a pull request or
      // another repository of the same owner never matches.
      assumedBy: new iam.WebIdentityPrincipal(props.provider.oidcProviderArn, {
        StringEquals: {
          [`${GITHUB_OIDC_HOST}:aud`]: GITHUB_OIDC_AUDIENCE,
          [`${GITHUB_OIDC_HOST}:sub`]: githubSubjects(props.repository, props.branch, props.environments),
        },
      }),
    });

    this.role.addToPolicy(new iam.PolicyStatement({
      sid: 'AssumeCdkBootstrapRoles',
      actions: ['sts:AssumeRole', 'sts:TagSession'],
      resources: [...props.assumableRoleArns],
    }));

    if (props.apiKeys) {
      const stack = Stack.of(this);
      this.role.addToPolicy(new iam.PolicyStatement({
        sid: 'ReadStageApiKeys',
        actions: ['apigateway:GET'],
        resources: props.apiKeys.regions.map((region) => `arn:${stack.partition}:apigateway:${region}::/apikeys/*`),
        conditions: {
          StringEquals: Object.fromEntries(Object.entries(props.apiKeys.resourceTags).map(
            ([k, v]) => [`aws:ResourceTag/${k}`, typeof v === 'string' ? v : [...v]],
          )),
        },
      }));
      // cdk-nag names the finding after the rendered ARN (`<AWS::Region>` for a Ref).
      const rendered = (v: string): string => {
        const r = stack.resolve(v) as unknown;
        return typeof r === 'string' ? r : `<${(r as { Ref: string }).Ref}>`;
      };
      for (const region of props.apiKeys.regions) {
        Validations.of(this.role).acknowledge({
          id: `AwsSolutions-IAM5[Resource::arn:${rendered(stack.partition)}:apigateway:${rendered(region)}::/apikeys/*]`,
          reason: 'apigateway:GET on /apikeys/*: a key id exists only after its stage deploys, so the '
            + 'role cannot name it; the statement is limited to GET (no list, no writes) on keys '
            + 'tagged project=sagefront and one of the stages (aws:ResourceTag condition), which '
            + 'is what the smoke test needs to read a stage key\'s value',
        });
      }
    }
  }
}

/** Properties of {@link CiStack}. */
export interface CiStackProps extends StackProps {
  readonly config: CiConfig;
  /** Tags every stage stack puts on its resources (`project`), matched by the API key grant. */
  readonly projectTag: string;
}

/** The OIDC provider and the GitHub deploy role, in one account and region. */
export class CiStack extends Stack {
  readonly provider: iam.IOidcProvider;
  readonly deployRole: GitHubDeployRole;

  constructor(scope: Construct, id: string, props: CiStackProps) {
    super(scope, id, props);
    const { config } = props;

    this.provider = config.oidcProvider === 'create'
      ? new iam.OidcProviderNative(this, 'GitHubOidc', {
        url: `https://${GITHUB_OIDC_HOST}`,
        clientIds: [GITHUB_OIDC_AUDIENCE],
      })
      // There is one provider per issuer and account, so its ARN is known.
      : iam.OidcProviderNative.fromOidcProviderArn(this, 'GitHubOidc', this.formatArn({
        service: 'iam',
        region: '',
        resource: 'oidc-provider',
        resourceName: GITHUB_OIDC_HOST,
      }));

    const regions = config.regions.map((r) => r ?? Aws.REGION);
    const account = this.account;
    this.deployRole = new GitHubDeployRole(this, 'Deploy', {
      provider: this.provider,
      repository: config.repository,
      branch: config.branch,
      environments: config.environments,
      assumableRoleArns: regions.flatMap((region) => BOOTSTRAP_ROLE_KINDS.map((kind) => this.formatArn({
        service: 'iam',
        region: '',
        resource: 'role',
        resourceName: `cdk-${config.bootstrapQualifier}-${kind}-role-${account}-${region}`,
      }))),
      apiKeys: { regions, resourceTags: { project: props.projectTag, stage: config.stageNames } },
    });

    new CfnOutput(this, 'DeployRoleArn', {
      description: 'Repository variable AWS_DEPLOY_ROLE_ARN of the deploy workflow',
      value: this.deployRole.role.roleArn,
    });
    new CfnOutput(this, 'OidcProviderArn', {
      description: 'The account\'s IAM OIDC provider for GitHub Actions',
      value: this.provider.oidcProviderArn,
    });
  }
}

/** The `project` tag every sagefront stack carries (`lib/app.ts`); the API key grant matches it. */
export const PROJECT_TAG = 'sagefront';

/** Adds the `sagefront-ci` stack to `app` (checked by cdk-nag like every stack). */
export function addCiStack(app: Construct, config: CiConfig): CiStack {
  return new CiStack(app, CI_STACK_NAME, {
    stackName: CI_STACK_NAME,
    description: `sagefront CI: GitHub OIDC provider and deploy role for ${config.repository}`,
    config,
    projectTag: PROJECT_TAG,
    tags: { project: PROJECT_TAG },
  });
}

/**
 * Tags a stage stack's API keys in the template with `project` and `stage`: the deploy role may
 * read a key's value only when it carries these tags (`aws:ResourceTag`), and rendering them on
 * the resource does not rely on CloudFormation propagating stack-level tags. Other resources'
 * templates are unchanged.
 */
export function tagApiKeysForCi(stack: Stack, stageName: string): void {
  const only = { includeResourceTypes: ['AWS::ApiGateway::ApiKey'] };
  Tags.of(stack).add('project', PROJECT_TAG, only);
  Tags.of(stack).add('stage', stageName, only);
}

/**
 * `sagefront-ci`: what GitHub Actions needs to deploy the stages without long-lived keys — the
 * account's GitHub OIDC provider (created, or the existing one imported) and one deploy role per
 * stage. A stage's role trusts only that stage's GitHub environment, on the deploy branch, in the
 * deploy workflow; it may only assume the CDK bootstrap roles of the stage's region and read the
 * stage's own API key for the smoke test.
 */
import { Aws, CfnOutput, Duration, Stack, StackProps, Tags, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { CI_STACK_NAME, CiConfig, DEPLOY_WORKFLOW_PATH } from './ci-config';

/** GitHub Actions' OIDC issuer (host and path of the `iss` claim). */
export const GITHUB_OIDC_HOST = 'token.actions.githubusercontent.com';
/** The audience `aws-actions/configure-aws-credentials` requests. */
export const GITHUB_OIDC_AUDIENCE = 'sts.amazonaws.com';

/** The CDK bootstrap roles `cdk deploy --app cdk.out` uses (no lookups: synth happens offline). */
export const BOOTSTRAP_ROLE_KINDS = ['deploy', 'file-publishing', 'image-publishing'] as const;

/** Who may assume a deploy role: the GitHub OIDC claims a token must carry, all compared exactly. */
export interface GitHubJobIdentity {
  /** `OWNER/REPO` as GitHub spells it (the `repository` part of `job_workflow_ref`). */
  readonly repository: string;
  /**
   * The repository part of the `sub` claim: `OWNER/REPO`, or `OWNER@OWNER_ID/REPO@REPO_ID` for a
   * repository with immutable subject claims.
   * @default repository
   */
  readonly subjectRepository?: string;
  /** The GitHub deployment environment the job runs in (`environment:` of the job). */
  readonly environment: string;
  /** The branch the workflow run must have been started from (`ref` claim). */
  readonly branch: string;
  /** Path of the (reusable) workflow file that runs the job, e.g. `.github/workflows/deploy-stage.yml`. */
  readonly workflowPath: string;
}

/**
 * The trust conditions of a deploy role, as IAM `StringEquals` keys → values. IAM can check these
 * GitHub claims in a role trust policy: `sub` and `aud` (standard OIDC), and — since AWS STS
 * validates provider-specific claims (2026) — `ref`, `job_workflow_ref`, `environment`,
 * `repository` and a few more. `sub` names the environment but not the branch for an environment
 * job, so the branch comes from `ref` (the branch the run started from) and `job_workflow_ref`
 * (the workflow file and the branch it was read from).
 */
export function githubTrustConditions(id: GitHubJobIdentity): Record<string, string> {
  const ref = `refs/heads/${id.branch}`;
  return {
    [`${GITHUB_OIDC_HOST}:aud`]: GITHUB_OIDC_AUDIENCE,
    [`${GITHUB_OIDC_HOST}:sub`]: `repo:${id.subjectRepository ?? id.repository}:environment:${id.environment}`,
    [`${GITHUB_OIDC_HOST}:ref`]: ref,
    [`${GITHUB_OIDC_HOST}:job_workflow_ref`]: `${id.repository}/${id.workflowPath}@${ref}`,
  };
}

/** Properties of {@link GitHubDeployRole}. */
export interface GitHubDeployRoleProps extends GitHubJobIdentity {
  /** The account's IAM OIDC provider for {@link GITHUB_OIDC_HOST}. */
  readonly provider: iam.IOidcProvider;
  /** ARNs of the roles the deploy role may assume (the CDK bootstrap roles). */
  readonly assumableRoleArns: readonly string[];
  /**
   * The API keys the role may read (`apigateway:GET`, for the smoke test): their region, and the
   * tags a key must carry.
   * @default no API key access
   */
  readonly apiKeys?: {
    readonly region: string;
    readonly resourceTags: Readonly<Record<string, string>>;
  };
  /**
   * Longest session of the role. The CDK CLI re-assumes the bootstrap roles (one hour each) with
   * this session while a deploy runs, so this bounds one stage's deploy: image build, endpoint
   * update and any gradual Lambda rollout.
   * @default 2 hours
   */
  readonly maxSessionDuration?: Duration;
}

/** An IAM role for one GitHub Actions deploy job, trusted through exact OIDC claims only. */
export class GitHubDeployRole extends Construct {
  readonly role: iam.Role;

  constructor(scope: Construct, id: string, props: GitHubDeployRoleProps) {
    super(scope, id);
    this.role = new iam.Role(this, 'Role', {
      description: `GitHub Actions deploys of ${props.repository}: environment ${props.environment}, `
        + `branch ${props.branch}, ${props.workflowPath}`,
      maxSessionDuration: props.maxSessionDuration ?? Duration.hours(2),
      // StringEquals on every claim, no wildcards: another environment, branch, workflow file,
      // pull request, fork or repository never matches; a token without one of the claims fails.
      assumedBy: new iam.WebIdentityPrincipal(props.provider.oidcProviderArn, {
        StringEquals: githubTrustConditions(props),
      }),
    });

    this.role.addToPolicy(new iam.PolicyStatement({
      sid: 'AssumeCdkBootstrapRoles',
      actions: ['sts:AssumeRole', 'sts:TagSession'],
      resources: [...props.assumableRoleArns],
    }));

    if (props.apiKeys) {
      const stack = Stack.of(this);
      const { region, resourceTags } = props.apiKeys;
      this.role.addToPolicy(new iam.PolicyStatement({
        sid: 'ReadStageApiKey',
        actions: ['apigateway:GET'],
        resources: [`arn:${stack.partition}:apigateway:${region}::/apikeys/*`],
        conditions: {
          StringEquals: Object.fromEntries(Object.entries(resourceTags).map(([k, v]) => [`aws:ResourceTag/${k}`, v])),
        },
      }));
      // cdk-nag names the finding after the rendered ARN (`<AWS::Region>` for a Ref).
      const rendered = (v: string): string => {
        const r = stack.resolve(v) as unknown;
        return typeof r === 'string' ? r : `<${(r as { Ref: string }).Ref}>`;
      };
      Validations.of(this.role).acknowledge({
        id: `AwsSolutions-IAM5[Resource::arn:${rendered(stack.partition)}:apigateway:${rendered(region)}::/apikeys/*]`,
        reason: 'apigateway:GET on /apikeys/*: a key id exists only after its stage deploys, so the '
          + 'role cannot name it; the statement is limited to GET (no list, no writes) on keys '
          + 'tagged project=sagefront and this role\'s stage (aws:ResourceTag condition), which '
          + 'is what the smoke test needs to read the stage key\'s value',
      });
    }
  }
}

/** Properties of {@link CiStack}. */
export interface CiStackProps extends StackProps {
  readonly config: CiConfig;
  /** Tags every stage stack puts on its resources (`project`), matched by the API key grant. */
  readonly projectTag: string;
}

/** `my-stage` → `MyStage`, for construct and output ids. */
function pascal(name: string): string {
  return name.split('-').map((p) => p.charAt(0).toUpperCase() + p.slice(1)).join('');
}

/** The OIDC provider and one GitHub deploy role per stage, in one account and region. */
export class CiStack extends Stack {
  readonly provider: iam.IOidcProvider;
  /** Stage name → its deploy role. */
  readonly deployRoles: Readonly<Record<string, GitHubDeployRole>>;

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

    const account = this.account;
    const ids = config.repositoryIds;
    const [owner, repo] = config.repository.split('/');
    const subjectRepository = ids ? `${owner}@${ids.owner}/${repo}@${ids.repository}` : config.repository;
    const roles: Record<string, GitHubDeployRole> = {};
    for (const stage of config.stages) {
      const region = stage.region ?? Aws.REGION;
      const name = pascal(stage.stageName);
      const deploy = new GitHubDeployRole(this, `Deploy${name}`, {
        provider: this.provider,
        repository: config.repository,
        subjectRepository,
        environment: stage.stageName,
        branch: config.branch,
        workflowPath: DEPLOY_WORKFLOW_PATH,
        // The bootstrap roles of the stage's own region only. Stages that share an account and
        // region share these roles, so this does not separate them (see README, deploy roles).
        assumableRoleArns: BOOTSTRAP_ROLE_KINDS.map((kind) => this.formatArn({
          service: 'iam',
          region: '',
          resource: 'role',
          resourceName: `cdk-${config.bootstrapQualifier}-${kind}-role-${account}-${region}`,
        })),
        apiKeys: { region, resourceTags: { project: props.projectTag, stage: stage.stageName } },
      });
      roles[stage.stageName] = deploy;
      new CfnOutput(this, `DeployRoleArn${name}`, {
        description: `Variable AWS_DEPLOY_ROLE_ARN of the GitHub environment ${stage.stageName}`,
        value: deploy.role.roleArn,
      });
    }
    this.deployRoles = roles;

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
    description: `sagefront CI: GitHub OIDC provider and one deploy role per stage for ${config.repository}`,
    config,
    projectTag: PROJECT_TAG,
    tags: { project: PROJECT_TAG },
  });
}

/**
 * Tags a stage stack's API keys in the template with `project` and `stage`: a stage's deploy role
 * may read a key's value only when it carries these tags (`aws:ResourceTag`), and rendering them
 * on the resource does not rely on CloudFormation propagating stack-level tags. Other resources'
 * templates are unchanged.
 */
export function tagApiKeysForCi(stack: Stack, stageName: string): void {
  const only = { includeResourceTypes: ['AWS::ApiGateway::ApiKey'] };
  Tags.of(stack).add('project', PROJECT_TAG, only);
  Tags.of(stack).add('stage', stageName, only);
}

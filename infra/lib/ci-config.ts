/**
 * Continuous-delivery configuration: the typed shape of the `sagefront:ci` context in `cdk.json`
 * (plus the `githubRepository` / `oidcProvider` CLI overrides) and its validation.
 *
 * `bin/app.ts` reads the raw context once and calls {@link parseCiConfig}; the `sagefront-ci`
 * stack only sees the resolved, readonly {@link CiConfig}.
 */
import { ConfigError, StageConfig } from './config';

/** Context key in `cdk.json` for the CI settings. */
export const CI_CONTEXT_KEY = 'sagefront:ci';
/** CLI override of `sagefront:ci.repository`: `-c githubRepository=OWNER/REPO`. */
export const CI_REPOSITORY_OVERRIDE = 'githubRepository';
/** CLI override of `sagefront:ci.oidcProvider`: `-c oidcProvider=import`. */
export const CI_OIDC_OVERRIDE = 'oidcProvider';
/** Name of the CI stack. */
export const CI_STACK_NAME = 'sagefront-ci';
/**
 * The reusable workflow that runs every deploy job. The deploy roles require it in the token's
 * `job_workflow_ref` claim (`infra/test/workflows.test.ts` checks the file exists and is the one
 * the stage jobs use).
 */
export const DEPLOY_WORKFLOW_PATH = '.github/workflows/deploy-stage.yml';

/** Whether the stack creates the account's GitHub OIDC provider or uses the existing one. */
export type OidcProviderMode = 'create' | 'import';

/** One stage the CI stack makes a deploy role for. */
export interface CiStage {
  /** The stage name; also the GitHub environment its deploy job runs in. */
  readonly stageName: string;
  /** The region the stage pins (`env.region`); `undefined`: the CI stack's own region. */
  readonly region?: string;
}

/** A fully resolved CI configuration. */
export interface CiConfig {
  /** `OWNER/REPO` exactly as GitHub spells it (IAM compares claims case-sensitively). */
  readonly repository: string;
  /**
   * GitHub's numeric owner and repository ids, for a repository whose OIDC subject has the
   * immutable format `repo:OWNER@OWNER_ID/REPO@REPO_ID:…` (repositories created after
   * 2026-07-15, or opted in). `undefined`: the name-only format `repo:OWNER/REPO:…`.
   */
  readonly repositoryIds?: { readonly owner: string; readonly repository: string };
  /** The only branch whose workflow runs may deploy (the token's `ref` and `job_workflow_ref`). */
  readonly branch: string;
  readonly oidcProvider: OidcProviderMode;
  /** Qualifier of the CDK bootstrap stack (`cdk bootstrap --qualifier`). */
  readonly bootstrapQualifier: string;
  /** Every stage of the app: one deploy role each, trusting the GitHub environment of its name. */
  readonly stages: readonly CiStage[];
}

const KEYS = ['repository', 'ownerId', 'repositoryId', 'branch', 'oidcProvider', 'bootstrapQualifier'];
const REPOSITORY = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})\/[A-Za-z0-9._-]{1,100}$/;
// A literal git branch name: no wildcards (IAM compares with StringEquals), no `..`, no spaces.
const BRANCH = /^(?!.*\.\.)(?!\/)(?!.*\/$)[A-Za-z0-9._\/-]{1,200}$/;
const GITHUB_ID = /^[1-9][0-9]{0,19}$/;
const QUALIFIER = /^[A-Za-z0-9_-]{1,10}$/;

function fail(key: string, message: string): never {
  throw new ConfigError(`${CI_CONTEXT_KEY}.${key} ${message}`);
}

function str(raw: Record<string, unknown>, key: string, pattern: RegExp, what: string): string | undefined {
  const v = raw[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' || !pattern.test(v)) fail(key, `must be ${what} (got ${JSON.stringify(v)})`);
  return v;
}

/**
 * Resolves the CI configuration, or `undefined` when no repository is configured (the
 * `sagefront-ci` stack is then not part of the app: it only makes sense for one repository).
 *
 * @param raw the `sagefront:ci` context (an object, or absent)
 * @param overrides the `githubRepository` and `oidcProvider` CLI context values, if given
 * @param stages every stage of the app (one deploy role each)
 * @throws ConfigError naming the key on any invalid value.
 */
export function parseCiConfig(
  raw: unknown,
  overrides: { readonly repository?: unknown; readonly oidcProvider?: unknown },
  stages: readonly StageConfig[],
): CiConfig | undefined {
  if (raw === null || raw === undefined) raw = {};
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError(`"${CI_CONTEXT_KEY}" must be an object`);
  }
  const r = { ...(raw as Record<string, unknown>) };
  if ('environments' in r) {
    // The key of the single shared role: each stage now has its own role and environment.
    fail('environments', 'is no longer a setting: every stage gets its own deploy role, trusting only the GitHub environment named like the stage');
  }
  const unknown = Object.keys(r).filter((k) => !KEYS.includes(k));
  if (unknown.length > 0) {
    fail(unknown[0], `is not a known key (known: ${KEYS.join(', ')})`);
  }
  if (overrides.repository !== undefined) r.repository = overrides.repository;
  if (overrides.oidcProvider !== undefined) r.oidcProvider = overrides.oidcProvider;

  const repository = str(r, 'repository', REPOSITORY, 'OWNER/REPO, e.g. "octo-org/sagefront"');
  if (repository === undefined) return undefined;

  const ownerId = str(r, 'ownerId', GITHUB_ID, 'the numeric id of the repository owner on GitHub, as a string');
  const repositoryId = str(r, 'repositoryId', GITHUB_ID, 'the numeric id of the repository on GitHub, as a string');
  if ((ownerId === undefined) !== (repositoryId === undefined)) {
    fail(ownerId === undefined ? 'ownerId' : 'repositoryId', 'must be set together with '
      + `${ownerId === undefined ? 'repositoryId' : 'ownerId'} (both name the immutable OIDC subject format)`);
  }

  const branch = str(r, 'branch', BRANCH, 'a branch name without wildcards, e.g. "main"') ?? 'main';

  const oidcProvider = r.oidcProvider ?? 'create';
  if (oidcProvider !== 'create' && oidcProvider !== 'import') {
    fail('oidcProvider', `must be "create" (a new account) or "import" (the account already has GitHub's provider), got ${JSON.stringify(oidcProvider)}`);
  }

  const bootstrapQualifier = str(r, 'bootstrapQualifier', QUALIFIER, 'the CDK bootstrap qualifier (at most 10 letters, digits, "-" or "_")') ?? 'hnb659fds';

  return {
    repository,
    ...(ownerId !== undefined && repositoryId !== undefined
      ? { repositoryIds: { owner: ownerId, repository: repositoryId } } : {}),
    branch,
    oidcProvider,
    bootstrapQualifier,
    stages: stages.map((s) => ({ stageName: s.stageName, region: s.env?.region })),
  };
}

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

/** Whether the stack creates the account's GitHub OIDC provider or uses the existing one. */
export type OidcProviderMode = 'create' | 'import';

/** A fully resolved CI configuration. */
export interface CiConfig {
  /** `OWNER/REPO` exactly as GitHub spells it (IAM compares the `sub` claim case-sensitively). */
  readonly repository: string;
  /** The branch whose workflow runs (outside an environment) may assume the role. */
  readonly branch: string;
  /** GitHub deployment environments whose jobs may assume the role (one per stage by default). */
  readonly environments: readonly string[];
  readonly oidcProvider: OidcProviderMode;
  /** Qualifier of the CDK bootstrap stack (`cdk bootstrap --qualifier`). */
  readonly bootstrapQualifier: string;
  /** Stage names whose API key the smoke test may read (`aws:ResourceTag/stage`). */
  readonly stageNames: readonly string[];
  /**
   * Regions the stages deploy to: the ones stages pin with `env.region`, plus the CI stack's
   * own region (`undefined` in the list) when a stage is region-agnostic.
   */
  readonly regions: readonly (string | undefined)[];
}

const KEYS = ['repository', 'branch', 'environments', 'oidcProvider', 'bootstrapQualifier'];
const REPOSITORY = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})\/[A-Za-z0-9._-]{1,100}$/;
// A literal git branch name: no wildcards (IAM compares with StringEquals), no `..`, no spaces.
const BRANCH = /^(?!.*\.\.)(?!\/)(?!.*\/$)[A-Za-z0-9._\/-]{1,200}$/;
// GitHub environment names: no wildcards or `:` (the claim separator) for an exact `sub` match.
const ENVIRONMENT = /^[A-Za-z0-9._-]{1,255}$/;
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
 * @param stages every stage of the app (environments and regions default from them)
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
  const unknown = Object.keys(r).filter((k) => !KEYS.includes(k));
  if (unknown.length > 0) {
    fail(unknown[0], `is not a known key (known: ${KEYS.join(', ')})`);
  }
  if (overrides.repository !== undefined) r.repository = overrides.repository;
  if (overrides.oidcProvider !== undefined) r.oidcProvider = overrides.oidcProvider;

  const repository = str(r, 'repository', REPOSITORY, 'OWNER/REPO, e.g. "octo-org/sagefront"');
  if (repository === undefined) return undefined;

  const branch = str(r, 'branch', BRANCH, 'a branch name without wildcards, e.g. "main"') ?? 'main';

  let environments: string[];
  if (r.environments === undefined || r.environments === null) {
    environments = stages.map((s) => s.stageName);
  } else {
    if (!Array.isArray(r.environments) || r.environments.length === 0) {
      fail('environments', 'must be a non-empty list of GitHub environment names');
    }
    environments = (r.environments as unknown[]).map((e) => {
      if (typeof e !== 'string' || !ENVIRONMENT.test(e)) {
        fail('environments', `has ${JSON.stringify(e)}: names may use only letters, digits, ".", "_" and "-"`);
      }
      return e;
    });
    if (new Set(environments).size !== environments.length) fail('environments', 'lists a name twice');
  }

  const oidcProvider = r.oidcProvider ?? 'create';
  if (oidcProvider !== 'create' && oidcProvider !== 'import') {
    fail('oidcProvider', `must be "create" (a new account) or "import" (the account already has GitHub's provider), got ${JSON.stringify(oidcProvider)}`);
  }

  const bootstrapQualifier = str(r, 'bootstrapQualifier', QUALIFIER, 'the CDK bootstrap qualifier (at most 10 letters, digits, "-" or "_")') ?? 'hnb659fds';

  const pinned = stages.map((s) => s.env?.region);
  const regions = [...new Set(pinned)].sort((a, b) => (a ?? '').localeCompare(b ?? ''));

  return {
    repository,
    branch,
    environments,
    oidcProvider,
    bootstrapQualifier,
    stageNames: stages.map((s) => s.stageName),
    regions,
  };
}

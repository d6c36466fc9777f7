/**
 * Builds the CDK app, the one place that does: one {@link SagefrontStack} per configured stage,
 * the optional `sagefront-ci` stack, and cdk-nag's AwsSolutions checks on every stack (findings
 * fail synth). `bin/app.ts` calls it with what it read from the process (flags, tool paths);
 * the tests call it directly.
 */
import { App, AppProps, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { CI_CONTEXT_KEY, CI_OIDC_OVERRIDE, CI_REPOSITORY_OVERRIDE, parseCiConfig } from './ci-config';
import { addCiStack, PROJECT_TAG, tagApiKeysForCi } from './ci-stack';
import { parseStages, selectStages, StageConfig, STAGES_CONTEXT_KEY } from './config/stage';
import { SagefrontStack, SourceLayout } from './sagefront-stack';

/** Options of {@link buildApp}. */
export interface BuildAppOptions {
  /** Where the function, the model-server build context and the labels are. */
  readonly source: SourceLayout;
  /** Props of the App (context, outdir, `postCliContext`). @default none: the CLI's */
  readonly appProps?: AppProps;
  /**
   * Called once the stages to synthesize are known, before any stack is built (bundling runs
   * while stacks are built): `bin/app.ts` checks the Rust toolchain here.
   */
  readonly beforeStages?: (app: App, stages: readonly StageConfig[]) => void;
}

/**
 * The app with every stage of `sagefront:stages` (or the one `-c stage=NAME` selects), plus
 * `sagefront-ci` when a repository is configured (`sagefront:ci.repository` in cdk.json or
 * `-c githubRepository=OWNER/REPO`).
 *
 * @throws ConfigError for an invalid stage or CI configuration.
 */
export function buildApp(options: BuildAppOptions): App {
  const app = new App(options.appProps);
  const allStages = parseStages(app.node.tryGetContext(STAGES_CONTEXT_KEY));
  const stages = selectStages(allStages, app.node.tryGetContext('stage'));
  const ci = parseCiConfig(app.node.tryGetContext(CI_CONTEXT_KEY), {
    repository: app.node.tryGetContext(CI_REPOSITORY_OVERRIDE),
    oidcProvider: app.node.tryGetContext(CI_OIDC_OVERRIDE),
  }, allStages);
  options.beforeStages?.(app, stages);
  addStages(app, stages, options.source)
    .forEach((stack) => tagApiKeysForCi(stack, stack.config.stageName));
  if (ci) addCiStack(app, ci);
  addNagChecks(app);
  return app;
}

/** Adds the cdk-nag AwsSolutions checks to every stack of `app`; a finding fails synthesis. */
export function addNagChecks(app: App): void {
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
}

/** Adds one stack per stage to `app` and returns them in order. */
export function addStages(app: App, stages: readonly StageConfig[], source: SourceLayout): SagefrontStack[] {
  return stages.map((config) => new SagefrontStack(app, config.stackName, {
    stackName: config.stackName,
    description: `sagefront ${config.stageName}: SageMaker endpoint, Rust Lambda and REST API`,
    env: config.env,
    config,
    source,
    tags: { project: PROJECT_TAG, stage: config.stageName },
  }));
}

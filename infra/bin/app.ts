#!/usr/bin/env node
/**
 * CDK entry point. Reads the stage configuration from `cdk.json` once, validates it, and
 * defines one stack per stage (`sagefront-dev`, `sagefront-prod`, …).
 *
 * - `-c stage=NAME` synthesizes a single stage.
 * - `-c githubRepository=OWNER/REPO` (or `sagefront:ci` in cdk.json) adds `sagefront-ci`, the
 *   GitHub Actions deploy role (see lib/ci-stack.ts).
 * - `SAGEFRONT_SKIP_BUNDLING=1` skips building the Rust function (the CLI refuses `-c aws:…`
 *   keys, so this sets `aws:cdk:bundling-stacks` through `postCliContext`); for quick synths.
 */
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { addNagChecks, addStages } from '../lib/app';
import { CI_CONTEXT_KEY, CI_OIDC_OVERRIDE, CI_REPOSITORY_OVERRIDE, parseCiConfig } from '../lib/ci-config';
import { addCiStack, tagApiKeysForCi } from '../lib/ci-stack';
import { ConfigError, parseStages, selectStages, STAGES_CONTEXT_KEY } from '../lib/config';

const ROOT = path.resolve(__dirname, '..', '..');

function main(): void {
  const skipBundling = process.env.SAGEFRONT_SKIP_BUNDLING === '1';
  const app = new App(skipBundling ? { postCliContext: { 'aws:cdk:bundling-stacks': [] } } : {});
  const allStages = parseStages(app.node.tryGetContext(STAGES_CONTEXT_KEY));
  const stages = selectStages(allStages, app.node.tryGetContext('stage'));
  addStages(app, stages, { root: ROOT })
    .forEach((stack, i) => tagApiKeysForCi(stack, stages[i].stageName));
  // sagefront-ci (GitHub OIDC deploy role) exists once a repository is configured:
  // `sagefront:ci.repository` in cdk.json or `-c githubRepository=OWNER/REPO`.
  const ci = parseCiConfig(app.node.tryGetContext(CI_CONTEXT_KEY), {
    repository: app.node.tryGetContext(CI_REPOSITORY_OVERRIDE),
    oidcProvider: app.node.tryGetContext(CI_OIDC_OVERRIDE),
  }, allStages);
  if (ci) addCiStack(app, ci);
  addNagChecks(app);
  app.synth();
}

try {
  main();
} catch (err) {
  if (err instanceof ConfigError) {
    console.error(`sagefront: ${err.message}`);
    process.exit(1);
  }
  throw err;
}

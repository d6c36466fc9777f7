#!/usr/bin/env node
/**
 * CDK entry point. Reads the stage configuration from `cdk.json` once, validates it, and
 * defines one stack per stage (`sagefront-dev`, `sagefront-prod`, …).
 *
 * - `-c stage=NAME` synthesizes a single stage.
 * - `SAGEFRONT_SKIP_BUNDLING=1` skips building the Rust function (the CLI refuses `-c aws:…`
 *   keys, so this sets `aws:cdk:bundling-stacks` through `postCliContext`); for quick synths.
 */
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { addNagChecks, addStages } from '../lib/app';
import { ConfigError, parseStages, selectStages, STAGES_CONTEXT_KEY } from '../lib/config';

const ROOT = path.resolve(__dirname, '..', '..');

function main(): void {
  const skipBundling = process.env.SAGEFRONT_SKIP_BUNDLING === '1';
  const app = new App(skipBundling ? { postCliContext: { 'aws:cdk:bundling-stacks': [] } } : {});
  const stages = selectStages(
    parseStages(app.node.tryGetContext(STAGES_CONTEXT_KEY)),
    app.node.tryGetContext('stage'),
  );
  addStages(app, stages, { root: ROOT });
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

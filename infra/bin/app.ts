#!/usr/bin/env node
/**
 * CDK entry point (`cdk.json`'s "app"): reads what only the process knows (flags, the tools on
 * PATH), checks the tools the build needs, and hands the rest to `buildApp` (lib/app.ts), the
 * one place that builds the app.
 *
 * - `-c stage=NAME` synthesizes a single stage.
 * - `-c githubRepository=OWNER/REPO` (or `sagefront:ci` in cdk.json) adds `sagefront-ci`, the
 *   GitHub Actions deploy role (see lib/ci-stack.ts).
 * - `SAGEFRONT_SKIP_BUNDLING=1` skips building the Rust function (the CLI refuses `-c aws:…`
 *   keys, so this sets `aws:cdk:bundling-stacks` through `postCliContext`); for quick synths.
 */
import * as path from 'node:path';
import { buildApp } from '../lib/app';
import { ConfigError } from '../lib/config/stage';
import { bundlingRequested, dockerUsable, rustBundlingPath, ToolchainError, warnWithoutDocker } from './toolchain';

const ROOT = path.resolve(__dirname, '..', '..');

/**
 * Synthesizes the app. Changes `env.PATH` when the function's build needs the repository's
 * `.venv/bin` (cargo-lambda-cdk's build inherits this process's environment).
 *
 * @throws ConfigError for invalid settings, ToolchainError for a missing tool.
 */
export function main(env: NodeJS.ProcessEnv, root: string): void {
  const skipBundling = env.SAGEFRONT_SKIP_BUNDLING === '1';
  const app = buildApp({
    source: { root },
    appProps: skipBundling ? { postCliContext: { 'aws:cdk:bundling-stacks': [] } } : {},
    beforeStages: (a, stages) => {
      if (bundlingRequested(a, stages.map((s) => s.stackName))) env.PATH = rustBundlingPath(env.PATH, root);
    },
  });
  if (!dockerUsable(env)) warnWithoutDocker(app);
  app.synth();
}

/** {@link main} for a shell: a user's mistake is one line on stderr and exit status 1. */
export function cli(env: NodeJS.ProcessEnv, root: string): void {
  try {
    main(env, root);
  } catch (err) {
    if (err instanceof ConfigError || err instanceof ToolchainError) {
      console.error(`sagefront: ${err.message}`);
      process.exitCode = 1;
      return;
    }
    throw err;
  }
}

if (require.main === module) cli(process.env, ROOT);

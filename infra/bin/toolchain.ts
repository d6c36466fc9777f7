/**
 * The tools `cdk synth` and `cdk deploy` need on this machine, checked before anything is built
 * so that a missing one is named with how to install it (never a Docker error from a fallback).
 *
 * cargo-lambda-cdk builds the function locally when `cargo lambda --version` succeeds on PATH and
 * otherwise falls back to building inside Docker (its `Bundling` probes once per process). The
 * repository's scripts install cargo-lambda and zig into `.venv/bin`, which a fresh shell does not
 * have on PATH: {@link rustBundlingPath} finds it there and puts `.venv/bin` first, so the local
 * build runs (cargo-lambda finds zig through `python3 -m ziglang`, the venv's python3).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Annotations, App, Stack } from 'aws-cdk-lib';
import { SagefrontStack } from '../lib/sagefront-stack';

/** A tool the build needs is missing; the message says which and how to install it. */
export class ToolchainError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ToolchainError';
  }
}

/** The executable `name` on `pathVar`, if any. */
export function which(name: string, pathVar: string | undefined): string | undefined {
  for (const dir of (pathVar ?? '').split(path.delimiter).filter(Boolean)) {
    const candidate = path.join(dir, name);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      if (fs.statSync(candidate).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/**
 * The PATH under which the function's local build works: `pathVar` itself when cargo-lambda is
 * on it, else with `<root>/.venv/bin` first when the scripts installed cargo-lambda there.
 *
 * @throws ToolchainError when cargo or cargo-lambda is nowhere.
 */
export function rustBundlingPath(pathVar: string | undefined, root: string): string {
  const current = pathVar ?? '';
  if (which('cargo', current) === undefined) {
    throw new ToolchainError('the function is built with Rust\'s cargo, which is not on PATH: install Rust with '
      + 'rustup (then `rustup target add aarch64-unknown-linux-gnu`), or set SAGEFRONT_SKIP_BUNDLING=1 to '
      + 'synthesize without building the function');
  }
  if (which('cargo-lambda', current) !== undefined) return current;
  const venvBin = path.join(root, '.venv', 'bin');
  if (which('cargo-lambda', venvBin) !== undefined) {
    return current === '' ? venvBin : `${venvBin}${path.delimiter}${current}`;
  }
  throw new ToolchainError('cargo-lambda is not installed: the function is cross-compiled for arm64 with '
    + `cargo-lambda and zig, found neither on PATH nor in ${venvBin}. Run scripts/dev or scripts/test once `
    + '(they install both into .venv), or `pip install cargo-lambda ziglang`; or set SAGEFRONT_SKIP_BUNDLING=1 '
    + 'to synthesize without building the function');
}

/**
 * Whether any of `stackNames` is to be bundled: the CLI names them in `aws:cdk:bundling-stacks`
 * (`**` for all, the selected stacks for `cdk deploy NAME`, none with SAGEFRONT_SKIP_BUNDLING).
 * The patterns are globs over the stack's construct path, which for these top-level stacks is
 * its name.
 */
export function bundlingRequested(app: App, stackNames: readonly string[]): boolean {
  const patterns: string[] = app.node.tryGetContext('aws:cdk:bundling-stacks') ?? ['**'];
  const toRegExp = (glob: string) => new RegExp(`^${glob.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
  return stackNames.some((name) => patterns.some((p) => toRegExp(p).test(name)));
}

/** Whether a Docker engine answers (`docker info`) under `env`. */
export function dockerUsable(env: NodeJS.ProcessEnv): boolean {
  const res = spawnSync('docker', ['info', '--format', '{{.ServerVersion}}'], { env, stdio: 'ignore', timeout: 15_000 });
  return res.status === 0;
}

/** Warning id of {@link warnWithoutDocker}. */
export const DOCKER_WARNING_ID = 'sagefront:dockerUnavailable';

/**
 * Adds a warning to every stage with the bundled model that is being built (its assets bundled,
 * as for `cdk deploy` or a full `cdk synth`): deploying it builds the model-server image with
 * Docker, which this machine cannot run now. Synth itself does not need Docker.
 */
export function warnWithoutDocker(app: App): void {
  for (const stack of app.node.children.filter((c): c is Stack => Stack.isStack(c))) {
    if (stack instanceof SagefrontStack && stack.config.model.source === 'bundled' && stack.bundlingRequired) {
      Annotations.of(stack).addWarningV2(DOCKER_WARNING_ID, 'Docker is not usable here (`docker info` failed): '
        + `deploying ${stack.stackName} builds the model-server image (model-server/Dockerfile, linux/amd64) with `
        + 'Docker and Buildx. Start Docker before `cdk deploy`, or use model.source "builtin" or "existing".');
    }
  }
}

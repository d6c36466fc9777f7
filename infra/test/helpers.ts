/**
 * Shared test setup: apps with cdk.json's feature flags and bundling skipped, stage configs
 * taken from cdk.json with per-test patches, and a small fixture workspace as the source layout
 * (so tests never depend on other parts of the repository being built, or on Docker).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { addNagChecks, addStages } from '../lib/app';
import { parseStage, StageConfig, STAGES_CONTEXT_KEY } from '../lib/config';
import { SagefrontStack, SourceLayout } from '../lib/sagefront-stack';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');

const tempDirs: string[] = [];

/**
 * A fresh directory in the temp dir, removed when the test file ends: tests leave nothing behind
 * (jest.config.js runs them in a temp dir of their own and fails the run on leftovers).
 */
export function tempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

afterAll(() => {
  for (const dir of tempDirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});
export const FIXTURE: SourceLayout = { root: path.join(__dirname, 'fixtures', 'workspace') };

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** The `context` object of the repository's cdk.json. */
export function cdkJsonContext(): Record<string, Json> {
  return JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'cdk.json'), 'utf8')).context;
}

/** The raw `sagefront:stages` entry of one stage in cdk.json. */
export function rawStage(name: string): Record<string, Json> {
  const stages = cdkJsonContext()[STAGES_CONTEXT_KEY] as Record<string, Record<string, Json>>;
  const raw = stages[name];
  if (!raw) throw new Error(`cdk.json has no stage ${name}`);
  return raw;
}

/** Deep-merges `patch` into `base`; `undefined` in the patch deletes the key. */
export function merge(base: Json | undefined, patch: unknown): Json {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)
      || base === null || typeof base !== 'object' || Array.isArray(base)) {
    return patch as Json;
  }
  const out: Record<string, Json> = { ...(base as Record<string, Json>) };
  for (const [k, v] of Object.entries(patch as Record<string, unknown>)) {
    if (v === undefined) delete out[k];
    else out[k] = merge(out[k], v);
  }
  return out;
}

/** A cdk.json stage with `patch` applied, validated like `bin/app.ts` does. */
export function stageConfig(name: string, patch: unknown = {}, base = name): StageConfig {
  return parseStage(name, merge(rawStage(base), patch));
}

/** An app as `cdk synth` builds it, minus bundling (the Rust build) and with a temp outdir. */
export function testApp(): App {
  const flags = Object.fromEntries(
    Object.entries(cdkJsonContext()).filter(([k]) => k !== STAGES_CONTEXT_KEY),
  );
  return new App({
    outdir: tempDir('sagefront-test-'),
    context: { ...flags, 'aws:cdk:bundling-stacks': [] },
  });
}

/** Synthesizes one stage (optionally under cdk-nag) and returns its stack and template. */
export function synthStage(config: StageConfig, opts: { nag?: boolean } = {}): { stack: SagefrontStack; template: Template } {
  const app = testApp();
  const [stack] = addStages(app, [config], FIXTURE);
  if (opts.nag) addNagChecks(app);
  return { stack, template: Template.fromStack(stack) };
}

/** Resources of `type` in the template as [logicalId, resource] pairs. */
export function resourcesOf(template: Template, type: string): [string, { Properties: Record<string, unknown> }][] {
  return Object.entries(template.findResources(type)) as [string, { Properties: Record<string, unknown> }][];
}

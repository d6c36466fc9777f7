/**
 * The function package as cargo-lambda-cdk bundles it, with a stand-in `cargo` on PATH that
 * records its arguments: the flags must match the packaging step's build (so CI compiles the
 * release function once) and the label file must land in the package, readable by Lambda.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { addStages } from '../lib/app';
import { cdkJsonContext, FIXTURE, stageConfig, tempDir } from './helpers';

// Jest gives tests a copy of process.env that child processes spawned without an explicit env
// never see; cargo-lambda-cdk probes `cargo lambda --version` that way. Pass the tests' env on.
jest.mock('child_process', () => {
  const actual = jest.requireActual('child_process');
  return {
    ...actual,
    spawnSync: (cmd: string, args: string[], opts?: object) => actual.spawnSync(cmd, args, { env: process.env, ...opts }),
  };
});

const FAKE_CARGO = `#!/usr/bin/env bash
if [ "$1 $2" = "lambda --version" ]; then echo "cargo-lambda 0.0.0-test"; exit 0; fi
printf '%s\\n' "$@" > "$FAKE_CARGO_LOG"
while [ $# -gt 0 ]; do [ "$1" = "--lambda-dir" ] && dir="$2"; shift; done
mkdir -p "$dir" && printf 'fake binary' > "$dir/bootstrap"
`;

let bin: string;
let log: string;
const saved = { PATH: process.env.PATH, FAKE_CARGO_LOG: process.env.FAKE_CARGO_LOG };

beforeAll(() => {
  bin = tempDir('sagefront-fake-cargo-');
  fs.writeFileSync(path.join(bin, 'cargo'), FAKE_CARGO, { mode: 0o755 });
  log = path.join(bin, 'args.txt');
  process.env.PATH = `${bin}${path.delimiter}${process.env.PATH}`;
  process.env.FAKE_CARGO_LOG = log;
});

afterAll(() => {
  process.env.PATH = saved.PATH;
  if (saved.FAKE_CARGO_LOG === undefined) delete process.env.FAKE_CARGO_LOG;
  else process.env.FAKE_CARGO_LOG = saved.FAKE_CARGO_LOG;
});

/** An app with bundling on (no `aws:cdk:bundling-stacks` override). */
function bundlingApp(): App {
  const flags = Object.fromEntries(Object.entries(cdkJsonContext()).filter(([k]) => k !== 'sagefront:stages'));
  return new App({ outdir: tempDir('sagefront-bundle-'), context: flags });
}

function functionPackage(outdir: string): string {
  const dir = fs.readdirSync(outdir).map((d) => path.join(outdir, d))
    .find((d) => fs.existsSync(path.join(d, 'bootstrap')));
  if (!dir) throw new Error(`no function package in ${outdir}`);
  return dir;
}

test('builds like the packaging step: release, arm64, one package, shared target dir', () => {
  const app = bundlingApp();
  addStages(app, [stageConfig('dev')], FIXTURE);
  const args = fs.readFileSync(log, 'utf8').trim().split('\n');
  expect(args.slice(0, 2)).toEqual(['lambda', 'build']);
  expect(args).toEqual(expect.arrayContaining(['--release', '--arm64']));
  expect(args[args.indexOf('--bin') + 1]).toBe('sagefront-function');
  expect(args[args.indexOf('--package') + 1]).toBe('sagefront-function');
  // The target dir is the workspace's (or CARGO_TARGET_DIR), as for `scripts/package`.
  expect(args).not.toContain('--target-dir');
});

/** A copy of the fixture workspace, to vary its files. */
function fixtureCopy(): string {
  const root = tempDir('sagefront-ws-');
  fs.cpSync(FIXTURE.root, root, { recursive: true });
  return root;
}

test('ships the label file at LABELS_PATH, readable by the Lambda user', () => {
  const root = fixtureCopy();
  const source = path.join(root, 'labels', 'imagenet-1k.txt');
  fs.chmodSync(source, 0o600); // Lambda runs the code as a user that could not read this
  const app = bundlingApp();
  addStages(app, [stageConfig('dev')], { root });
  const labels = path.join(functionPackage(app.outdir), 'labels', 'imagenet-1k.txt');
  expect(fs.readFileSync(labels, 'utf8')).toBe(fs.readFileSync(source, 'utf8'));
  expect(fs.statSync(labels).mode & 0o777).toBe(0o644);
});

test('the builtin source ships the Caltech-256 labels instead', () => {
  const app = bundlingApp();
  addStages(app, [stageConfig('dev', { model: { source: 'builtin', modelDataUrl: 's3://training-bucket/model.tar.gz' } })], FIXTURE);
  const pkg = functionPackage(app.outdir);
  expect(fs.readdirSync(path.join(pkg, 'labels'))).toEqual(['caltech-256.txt']);
});

test('fails the build when the label file is missing', () => {
  const root = fixtureCopy();
  fs.rmSync(path.join(root, 'labels', 'imagenet-1k.txt'));
  const app = bundlingApp();
  // The hook's message ("label file labels/imagenet-1k.txt is missing") goes to the build's stderr.
  expect(() => addStages(app, [stageConfig('dev')], { root })).toThrow(/bash exited with status 1$/m);
});

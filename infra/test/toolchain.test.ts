/**
 * The tools `cdk synth` / `cdk deploy` need, checked by the entry point before anything is built:
 * cargo-lambda is found on PATH or in the repository's `.venv/bin`; when it is nowhere the error
 * names it and how to install it (never a Docker error from cargo-lambda-cdk's fallback); a
 * bundled-model stage synthesized without a usable Docker carries a warning.
 *
 * The end-to-end cases run the real entry point (`cli` in bin/app.ts) in a child process whose
 * PATH holds only stand-ins: `cargo` that runs `cargo-lambda` from PATH as real cargo does, a
 * `cargo-lambda` that writes a fake `bootstrap`, and a `docker` that cannot reach an engine.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { bundlingRequested, dockerUsable, rustBundlingPath, ToolchainError, which } from '../bin/toolchain';
import { cdkJsonContext, FIXTURE, REPO_ROOT, tempDir } from './helpers';

const FAKE_CARGO = `#!/usr/bin/env bash
# Like cargo: \`cargo lambda ...\` runs the cargo-lambda found on PATH.
if [ "$1" = lambda ]; then shift; exec cargo-lambda lambda "$@"; fi
exit 1
`;
const FAKE_CARGO_LAMBDA = `#!/usr/bin/env bash
[ "$2" = --version ] && { echo "cargo-lambda 0.0.0-test"; exit 0; }
while [ $# -gt 0 ]; do [ "$1" = --lambda-dir ] && dir="$2"; shift; done
mkdir -p "$dir" && printf 'fake binary' > "$dir/bootstrap"
`;
const BROKEN_DOCKER = '#!/usr/bin/env bash\necho "Cannot connect to the Docker daemon" >&2; exit 1\n';
const WORKING_DOCKER = '#!/usr/bin/env bash\necho 27.0.0\n';

/** A directory of executables: stand-ins by content, real tools by symlink. */
function binDir(scripts: Record<string, string>, real: string[] = []): string {
  const dir = tempDir('sagefront-bin-');
  for (const [name, text] of Object.entries(scripts)) fs.writeFileSync(path.join(dir, name), text, { mode: 0o755 });
  for (const tool of real) {
    const target = which(tool, process.env.PATH);
    if (!target) throw new Error(`${tool} is not on PATH`);
    fs.symlinkSync(target, path.join(dir, tool));
  }
  return dir;
}

/** What the fake build and its label hook need, besides the stand-ins. */
const SHELL_TOOLS = ['bash', 'mkdir', 'install'];

describe('rustBundlingPath', () => {
  test('keeps PATH when cargo-lambda is on it', () => {
    const bin = binDir({ cargo: FAKE_CARGO, 'cargo-lambda': FAKE_CARGO_LAMBDA });
    expect(rustBundlingPath(bin, tempDir('sagefront-root-'))).toBe(bin);
  });

  test('puts the repository\'s .venv/bin first when cargo-lambda is only there', () => {
    const bin = binDir({ cargo: FAKE_CARGO });
    const root = tempDir('sagefront-root-');
    fs.mkdirSync(path.join(root, '.venv', 'bin'), { recursive: true });
    fs.writeFileSync(path.join(root, '.venv', 'bin', 'cargo-lambda'), FAKE_CARGO_LAMBDA, { mode: 0o755 });
    expect(rustBundlingPath(bin, root)).toBe(`${path.join(root, '.venv', 'bin')}${path.delimiter}${bin}`);
  });

  test('names cargo-lambda and how to install it when it is nowhere', () => {
    const bin = binDir({ cargo: FAKE_CARGO });
    const run = () => rustBundlingPath(bin, tempDir('sagefront-root-'));
    expect(run).toThrow(ToolchainError);
    expect(run).toThrow(/^cargo-lambda is not installed: .*scripts\/dev or scripts\/test .*pip install cargo-lambda ziglang/);
    expect(run).not.toThrow(/docker/i);
  });

  test('names cargo when Rust is not installed', () => {
    expect(() => rustBundlingPath(binDir({}), tempDir('sagefront-root-'))).toThrow(/Rust's cargo, which is not on PATH: install Rust with rustup/);
  });
});

describe('bundlingRequested', () => {
  const app = (patterns?: string[]) => new App({
    outdir: tempDir('sagefront-app-'),
    context: patterns === undefined ? {} : { 'aws:cdk:bundling-stacks': patterns },
  });

  test('follows the CLI\'s aws:cdk:bundling-stacks globs', () => {
    expect(bundlingRequested(app(), ['sagefront-dev'])).toBe(true);
    expect(bundlingRequested(app(['**']), ['sagefront-dev'])).toBe(true);
    expect(bundlingRequested(app([]), ['sagefront-dev'])).toBe(false);
    expect(bundlingRequested(app(['sagefront-prod']), ['sagefront-dev'])).toBe(false);
    expect(bundlingRequested(app(['sagefront-prod']), ['sagefront-dev', 'sagefront-prod'])).toBe(true);
    expect(bundlingRequested(app(['sagefront-*']), ['sagefront-dev'])).toBe(true);
  });
});

describe('dockerUsable', () => {
  test('is true only when `docker info` succeeds', () => {
    expect(dockerUsable({ PATH: binDir({ docker: WORKING_DOCKER }, ['bash']) })).toBe(true);
    expect(dockerUsable({ PATH: binDir({ docker: BROKEN_DOCKER }, ['bash']) })).toBe(false);
    expect(dockerUsable({ PATH: binDir({}) })).toBe(false);
  });
});

describe('bin/app.ts from a fresh shell', () => {
  /** Runs `cli(env, root)` of the entry point with only `bin` on PATH, bundling on; stage dev unless `context` says. */
  function synth(bin: string, root: string, context: Record<string, unknown> = { stage: 'dev' }) {
    const outdir = tempDir('sagefront-out-');
    const entry = path.join(REPO_ROOT, 'infra', 'bin', 'app.ts');
    const res = spawnSync(process.execPath, ['-r', 'ts-node/register/transpile-only', '-e',
      `require(${JSON.stringify(entry)}).cli(process.env, ${JSON.stringify(root)})`], {
      cwd: REPO_ROOT,
      env: {
        PATH: bin,
        HOME: process.env.HOME,
        TMPDIR: process.env.TMPDIR,
        DISABLE_V8_COMPILE_CACHE: '1', // ts-node's cache would outlive the test in TMPDIR
        CDK_OUTDIR: outdir,
        CDK_CONTEXT_JSON: JSON.stringify({ ...cdkJsonContext(), ...context }),
      },
      encoding: 'utf8',
    });
    return { status: res.status, stderr: res.stderr, outdir };
  }

  /** A copy of the fixture workspace (Cargo.toml, labels, model-server/Dockerfile) as the repository root. */
  function workspace(): string {
    const root = tempDir('sagefront-ws-');
    fs.cpSync(FIXTURE.root, root, { recursive: true });
    return root;
  }

  test('without cargo-lambda anywhere: exit 1, the message names cargo-lambda, not Docker', () => {
    const { status, stderr } = synth(binDir({ cargo: FAKE_CARGO, docker: BROKEN_DOCKER }, SHELL_TOOLS), workspace());
    expect(stderr).toMatch(/^sagefront: cargo-lambda is not installed: .*pip install cargo-lambda ziglang/);
    expect(stderr).not.toMatch(/docker/i);
    expect(status).toBe(1);
  });

  test('with cargo-lambda only in .venv/bin: the function builds, and the Docker warning names the stage', () => {
    const root = workspace();
    fs.mkdirSync(path.join(root, '.venv', 'bin'), { recursive: true });
    fs.writeFileSync(path.join(root, '.venv', 'bin', 'cargo-lambda'), FAKE_CARGO_LAMBDA, { mode: 0o755 });
    const { status, stderr, outdir } = synth(binDir({ cargo: FAKE_CARGO, docker: BROKEN_DOCKER }, SHELL_TOOLS), root);
    expect(status).toBe(0);
    expect(stderr).toMatch(/Docker is not usable here .*deploying sagefront-dev builds the model-server image/);
    const packages = fs.readdirSync(outdir).filter((d) => fs.existsSync(path.join(outdir, d, 'bootstrap')));
    expect(packages).toHaveLength(1);
  });

  test('an existing endpoint needs no Docker: no warning', () => {
    const root = workspace();
    const bin = binDir({ cargo: FAKE_CARGO, 'cargo-lambda': FAKE_CARGO_LAMBDA, docker: BROKEN_DOCKER }, SHELL_TOOLS);
    const res = synth(bin, root, { 'sagefront:stages': { ext: { model: { source: 'existing', endpointName: 'my-endpoint' } } } });
    expect(res.stderr).not.toMatch(/docker/i);
    expect(res.status).toBe(0);
  });
});

/**
 * scripts/deploy-stage, the per-stage step of the deploy workflow, in a sandbox: a copy of the
 * script and scripts/lib/common.sh next to stand-ins for `npx` (cdk deploy), `aws` and
 * scripts/smoke-test that record how they were called, and every other program on PATH wrapped
 * by a recorder of its argv. Pins that the stage is deployed from the assembly, the API key is
 * read in the API's region, masked, handed to the smoke test in its environment and never on any
 * program's command line, the URL reaches the workflow, and a failed deploy or smoke test fails
 * the step (which stops the promotion). Also scripts/smoke-test's own key input.
 */
import { createHash } from 'node:crypto';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { REPO_ROOT } from './helpers';

interface Sandbox {
  root: string;
  log: string;
  /** Every program started, as [name, ...args] records (see {@link argvRecorder}). */
  argvLog: string;
  /** The SAGEFRONT_API_KEY each smoke-test run saw, one line per run. */
  smokeEnv: string;
  githubOutput: string;
  shims: string;
}

const KEY = 's3cr3t-key-value';
const sha256 = (file: string): string => createHash('sha256').update(fs.readFileSync(file)).digest('hex');

function write(file: string, text: string, mode = 0o644): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text, { mode });
}

/** Appends one record — the program's name, then each argument — to the argv log. */
const RECORD = (log: string, name: string): string => `printf '%s\\0' "${name}" "$@" >> "${log}"; printf '\\036' >> "${log}"`;

/**
 * A directory with one entry for every program on `PATH`, each a link to a bash script that
 * records its name and arguments, then runs the real program (argv[0] kept). Put first on PATH,
 * it sees every program a script starts by name — what `ps` would show of each.
 */
function argvRecorder(root: string, log: string): string {
  const shims = path.join(root, 'shims');
  fs.mkdirSync(shims);
  const realPath = (process.env.PATH ?? '').split(':').filter((d) => d && fs.existsSync(d));
  const recorder = path.join(root, 'argv-recorder');
  write(recorder, `#!/bin/bash
name="\${0##*/}"
${RECORD(log, '$name')}
IFS=: read -ra dirs <<< "${realPath.join(':')}"
for d in "\${dirs[@]}"; do
  if [ -f "$d/$name" ] && [ -x "$d/$name" ]; then exec -a "$name" "$d/$name" "$@"; fi
done
echo "argv-recorder: $name not found" >&2
exit 127
`, 0o755);
  for (const dir of realPath) {
    for (const name of fs.readdirSync(dir)) {
      const link = path.join(shims, name);
      if (!fs.existsSync(link) && !name.startsWith('.')) fs.symlinkSync(recorder, link);
    }
  }
  return shims;
}

const sandboxes: string[] = [];
afterAll(() => sandboxes.forEach((root) => fs.rmSync(root, { recursive: true, force: true })));

/**
 * @param outputs the stack outputs the fake `cdk deploy` writes (`undefined`: the deploy fails)
 * @param smokeFailures how many smoke-test attempts fail before one passes
 * @param edit a change to the copy of scripts/deploy-stage (to prove the checks can fail)
 */
function sandbox(stack: string, outputs: Record<string, string> | undefined, smokeFailures = 0,
  edit?: (script: string) => string): Sandbox {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'sagefront-deploy-'));
  sandboxes.push(root);
  const log = path.join(root, 'calls.log');
  const argvLog = path.join(root, 'argv.log');
  const smokeEnv = path.join(root, 'smoke-env.log');
  const script = fs.readFileSync(path.join(REPO_ROOT, 'scripts', 'deploy-stage'), 'utf8');
  const edited = edit ? edit(script) : script;
  if (edit && edited === script) throw new Error('the edit changed nothing: scripts/deploy-stage moved on');
  write(path.join(root, 'scripts', 'deploy-stage'), edited, 0o755);
  fs.mkdirSync(path.join(root, 'scripts', 'lib'), { recursive: true });
  fs.copyFileSync(path.join(REPO_ROOT, 'scripts', 'lib', 'common.sh'), path.join(root, 'scripts', 'lib', 'common.sh'));
  // Installed Node and Python tools, as common.sh's stamps record them.
  write(path.join(root, 'package-lock.json'), '{}');
  write(path.join(root, 'node_modules', '.package-lock.sha256'), `${sha256(path.join(root, 'package-lock.json'))}\n`);
  write(path.join(root, 'requirements-dev.txt'), 'pytest==8.4.2\n');
  write(path.join(root, 'model-server', 'tools', 'requirements.txt'), 'numpy==2.4.6\n');
  // ensure_venv's stamp: the sha256 of both requirement files, concatenated.
  write(path.join(root, '.venv', '.requirements.sha256'),
    `${createHash('sha256').update('pytest==8.4.2\nnumpy==2.4.6\n').digest('hex')}\n`);
  write(path.join(root, '.venv', 'bin', 'python3'), '#!/bin/sh\nexit 0\n', 0o755);
  // The cloud assembly.
  write(path.join(root, 'cdk.out', 'manifest.json'), '{}');
  write(path.join(root, 'cdk.out', `${stack}.template.json`), '{}');
  // Stand-ins.
  const outputsJson = JSON.stringify({ [stack]: outputs ?? {} });
  write(path.join(root, '.venv', 'bin', 'npx'), `#!/usr/bin/env bash
${RECORD(argvLog, 'npx')}
echo "npx $*" >> "${log}"
${outputs === undefined ? 'exit 1' : ''}
while [ $# -gt 0 ]; do
  if [ "$1" = --outputs-file ]; then printf '%s' '${outputsJson}' > "$2"; fi
  shift
done
`, 0o755);
  write(path.join(root, '.venv', 'bin', 'aws'), `#!/usr/bin/env bash
${RECORD(argvLog, 'aws')}
echo "aws $*" >> "${log}"
echo "${KEY}"
`, 0o755);
  write(path.join(root, 'scripts', 'smoke-test'), `#!/usr/bin/env bash
${RECORD(argvLog, 'smoke-test')}
echo "smoke-test $*" >> "${log}"
echo "\${SAGEFRONT_API_KEY-<unset>}" >> "${smokeEnv}"
n=$(grep -c '^smoke-test' "${log}")
[ "$n" -gt ${smokeFailures} ]
`, 0o755);
  const shims = argvRecorder(root, argvLog);
  return { root, log, argvLog, smokeEnv, githubOutput: path.join(root, 'github-output'), shims };
}

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
  calls: string[];
  /** Every program started: [name, ...args]. */
  argv: string[][];
  /** SAGEFRONT_API_KEY as each smoke-test run saw it. */
  smokeKeys: string[];
  githubOutput: string;
}

function run(box: Sandbox, stage: string): Run {
  const res = spawnSync('/bin/bash', [path.join(box.root, 'scripts', 'deploy-stage'), stage, 'cdk.out'], {
    cwd: box.root,
    env: {
      ...process.env,
      PATH: `${box.shims}:${process.env.PATH}`,
      GITHUB_ACTIONS: 'true',
      GITHUB_OUTPUT: box.githubOutput,
      SMOKE_RETRY_SECONDS: '0',
      SAGEFRONT_API_KEY: 'a-key-from-the-caller', // must not leak into a keyless stage's smoke test
    },
    encoding: 'utf8',
  });
  const read = (f: string) => (fs.existsSync(f) ? fs.readFileSync(f, 'utf8') : '');
  return {
    status: res.status,
    stdout: res.stdout,
    stderr: res.stderr,
    calls: read(box.log).trim().split('\n').filter(Boolean),
    argv: read(box.argvLog).split('\x1e').filter(Boolean).map((r) => r.split('\0').slice(0, -1)),
    smokeKeys: read(box.smokeEnv).split('\n').slice(0, -1),
    githubOutput: read(box.githubOutput),
  };
}

/** The programs whose argv contains `secret`, with that argv. */
const argvWith = (res: Run, secret: string): string[][] => res.argv.filter((a) => a.some((x) => x.includes(secret)));

const PROD_URL = 'https://abc123.execute-api.eu-west-1.amazonaws.com/prod/';
const DEV_URL = 'https://def456.execute-api.us-east-1.amazonaws.com/dev/';

describe('scripts/deploy-stage', () => {
  test('a stage with an API key: deploy from the assembly, read and mask the key, smoke-test with it', () => {
    const res = run(sandbox('sagefront-prod', { ApiUrl: PROD_URL, ApiKeyId: 'k3y1d' }), 'prod');
    expect(res.status).toBe(0);
    expect(res.calls).toEqual([
      expect.stringMatching(/^npx --no-install cdk deploy --app cdk\.out sagefront-prod --require-approval never .*--outputs-file /),
      'aws apigateway get-api-key --api-key k3y1d --include-value --region eu-west-1 --query value --output text',
      `smoke-test ${PROD_URL}`,
    ]);
    expect(res.smokeKeys).toEqual([KEY]);
    expect(res.stdout).toContain(`::add-mask::${KEY}`);
    expect(res.githubOutput).toBe(`api_url=${PROD_URL}\n`);
  });

  test('the API key is on no program\'s command line: it reaches the smoke test in its environment only', () => {
    const res = run(sandbox('sagefront-prod', { ApiUrl: PROD_URL, ApiKeyId: 'k3y1d' }), 'prod');
    expect(res.status).toBe(0);
    expect(res.smokeKeys).toEqual([KEY]);
    expect(argvWith(res, KEY)).toEqual([]);
    // The recorder saw the script's programs, stand-ins and real ones alike (it is not vacuous).
    const names = new Set(res.argv.map(([name]) => name));
    for (const name of ['npx', 'aws', 'smoke-test', 'node', 'sed', 'mktemp', 'sha256sum', 'seq']) expect([name, names.has(name)]).toEqual([name, true]);
  });

  test.each([
    ['as an argument of the smoke test (the old way)', (s: string) => s.replace('SAGEFRONT_API_KEY="$key" scripts/smoke-test "$url"', 'scripts/smoke-test "$url" "$key"'), 'smoke-test'],
    ['to any other program', (s: string) => s.replace('  key="$value"\n', '  key="$value"\n  grep -q "$value" /dev/null || true\n'), 'grep'],
  ])('the check can fail: a key passed %s is caught', (_what, edit, program) => {
    const res = run(sandbox('sagefront-prod', { ApiUrl: PROD_URL, ApiKeyId: 'k3y1d' }, 0, edit), 'prod');
    expect(argvWith(res, KEY).map(([name]) => name)).toContain(program);
  });

  test('a stage without keys: no API Gateway call, smoke test with the URL only and no key', () => {
    const res = run(sandbox('sagefront-dev', { ApiUrl: DEV_URL, EndpointName: 'ep' }), 'dev');
    expect(res.status).toBe(0);
    expect(res.calls.slice(1)).toEqual([`smoke-test ${DEV_URL}`]);
    expect(res.smokeKeys).toEqual(['']);
  });

  test('a cold first smoke test is retried', () => {
    const res = run(sandbox('sagefront-dev', { ApiUrl: DEV_URL }, 2), 'dev');
    expect(res.status).toBe(0);
    expect(res.calls.filter((c) => c.startsWith('smoke-test'))).toHaveLength(3);
  });

  test('a smoke test that keeps failing fails the step: no promotion', () => {
    const res = run(sandbox('sagefront-dev', { ApiUrl: DEV_URL }, 99), 'dev');
    expect(res.status).not.toBe(0);
    expect(res.calls.filter((c) => c.startsWith('smoke-test'))).toHaveLength(3);
    expect(res.stderr).toMatch(/the smoke test of sagefront-dev failed 3 times: not promoting/);
  });

  test('a failed deploy fails the step before any smoke test', () => {
    const res = run(sandbox('sagefront-dev', undefined), 'dev');
    expect(res.status).not.toBe(0);
    expect(res.calls.some((c) => c.startsWith('smoke-test'))).toBe(false);
    expect(res.githubOutput).toBe('');
  });

  test('a stack without ApiUrl fails', () => {
    const res = run(sandbox('sagefront-dev', { EndpointName: 'ep' }), 'dev');
    expect(res.status).not.toBe(0);
    expect(res.stderr).toMatch(/sagefront-dev has no ApiUrl output/);
  });

  test('a stage missing from the assembly fails before deploying', () => {
    const res = run(sandbox('sagefront-dev', { ApiUrl: DEV_URL }), 'prod');
    expect(res.status).not.toBe(0);
    expect(res.stderr).toMatch(/has no stack sagefront-prod/);
    expect(res.calls).toEqual([]);
  });
});

describe('scripts/smoke-test: where the API key comes from', () => {
  // A stand-in API that answers /health and records the x-api-key of the prediction request (the
  // smoke test then fails on the made-up answer; only the key matters here).
  async function smokeTest(args: string[], env: Record<string, string>): Promise<{ status: number | null; stderr: string; keys: (string | undefined)[] }> {
    const keys: (string | undefined)[] = [];
    const server = http.createServer((req, res) => {
      if (req.url === '/health') {
        res.writeHead(200, { 'content-type': 'application/json', 'x-request-id': 'r1' }).end('{"status":"ok"}');
      } else {
        keys.push(req.headers['x-api-key'] as string | undefined);
        req.resume();
        res.writeHead(403, { 'content-type': 'application/json' }).end('{"message":"Forbidden"}');
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    try {
      const python = path.join(REPO_ROOT, '.venv', 'bin', 'python3');
      const child = spawn(python, [path.join(REPO_ROOT, 'scripts', 'lib', 'smoke_test.py'), url, ...args], {
        env: { ...process.env, ...env },
      });
      let stderr = '';
      child.stderr.on('data', (d) => { stderr += d; });
      const status = await new Promise<number | null>((resolve) => child.on('close', resolve));
      return { status, stderr, keys };
    } finally {
      server.close();
    }
  }

  test('SAGEFRONT_API_KEY in the environment is sent as x-api-key, without a warning', async () => {
    const res = await smokeTest([], { SAGEFRONT_API_KEY: KEY });
    expect(res.keys).toEqual([KEY]);
    expect(res.status).toBe(1); // the stand-in's 403
    expect(res.stderr).not.toMatch(/warning/);
  });

  test('no key: no x-api-key header', async () => {
    const res = await smokeTest([], { SAGEFRONT_API_KEY: '' });
    expect(res.keys).toEqual([undefined]);
  });

  test('a key on the command line still works, with a warning that ps shows it', async () => {
    const res = await smokeTest([KEY], { SAGEFRONT_API_KEY: '' });
    expect(res.keys).toEqual([KEY]);
    expect(res.stderr).toMatch(/warning: an API key on the command line is visible to every user of this machine \(ps\)/);
  });
});

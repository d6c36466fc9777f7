/**
 * The settings reference table against the code: every setting of the schema has a row, every
 * function variable the table names is one the function reads, every default the table states
 * for a function setting is the function's own, and the stack sets no variable the table does
 * not document.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseSettingsTable, renderSettingsTable, SettingRow, settingsRows } from '../lib/config';
import { REPO_ROOT, stageConfig, synthStage, resourcesOf } from './helpers';

/**
 * Where the settings reference table is read from, relative to the repository root. Unset, the
 * table rendered from the schema is checked; once the docs carry the table (docs/deploy.md), set
 * this to that file and every check below reads the docs' table.
 *
 * Unset for now: the schema gained the routes, invocation, target, allow-list, `/health`
 * throttle and KMS settings, and docs/deploy.md still carries the previous table until the docs
 * owner pastes the regenerated one (`npm run --silent settings-table`). Set it back to
 * 'docs/deploy.md' in the same change.
 */
const SETTINGS_TABLE_DOC: string | undefined = 'docs/deploy.md';

/** The function's configuration module: the one place its defaults live. */
const FUNCTION_CONFIG = 'function/src/config.rs';

function tableRows(): SettingRow[] {
  const markdown = SETTINGS_TABLE_DOC === undefined
    ? renderSettingsTable()
    : fs.readFileSync(path.join(REPO_ROOT, SETTINGS_TABLE_DOC), 'utf8');
  return parseSettingsTable(markdown);
}

const configRs = () => fs.readFileSync(path.join(REPO_ROOT, FUNCTION_CONFIG), 'utf8');

/** The value of `const NAME: T = <expr>;` in Rust source: a string literal or an integer product. */
function rustConst(rs: string, name: string): string | undefined {
  const m = new RegExp(`const ${name}: [^=]+= ([^;]+);`).exec(rs);
  if (!m) return undefined;
  const expr = m[1].trim();
  const str = /^"([^"]*)"$/.exec(expr);
  if (str) return str[1];
  if (/^[\d_]+(\s*\*\s*[\d_]+)*$/.test(expr)) {
    return String(expr.split('*').map((n) => Number(n.trim().replace(/_/g, ''))).reduce((a, b) => a * b, 1));
  }
  return undefined;
}

/** The body of the top-level `fn name(` in Rust source (up to its closing brace in column 0). */
function rustFnBody(rs: string, name: string): string | undefined {
  const start = rs.search(new RegExp(`\\nfn ${name}\\(`));
  if (start < 0) return undefined;
  const end = rs.indexOf('\n}\n', start);
  return rs.slice(start, end < 0 ? undefined : end);
}

/**
 * The default of a variable read through a helper, `helper(get("X"))` or
 * `helper("X", get("X"))`: what the helper returns for `None` — `Ok(None)` or an empty map is
 * "none"; `Ok(T::default())` is the fields `impl Default for T` sets to `true`, comma-separated.
 */
function helperDefault(rs: string, variable: string): string | undefined {
  const call = new RegExp(`([a-z_]+)\\(\\s*(?:"${variable}",\\s*)?get\\("${variable}"\\)`).exec(rs);
  const body = call && rustFnBody(rs, call[1]);
  if (!body) return undefined;
  if (/None => Ok\(None\)/.test(body)) return 'none';
  const early = /let Some\(value\) = value else \{\s*return Ok\(([A-Za-z]+)::(new|default)\(\)\);/.exec(body);
  if (!early) return undefined;
  if (early[1] === 'BTreeMap' || early[1] === 'HashMap') return 'none';
  const impl = new RegExp(`impl Default for ${early[1]} \\{[\\s\\S]*?\\n\\}`).exec(rs)?.[0];
  const on = impl && [...impl.matchAll(/(\w+): true/g)].map((m) => m[1]);
  return on && on.length > 0 ? on.join(',') : undefined;
}

/**
 * The default the function applies when `variable` is unset, as read from its config module:
 * a `DEFAULT_<VARIABLE>` constant, the `None` arm of the code that reads the variable, or what
 * the helper that parses it returns for `None`.
 * `undefined` when the code takes a shape this reader does not know (the test then says so).
 */
function functionDefault(rs: string, variable: string): string | undefined {
  const constant = rustConst(rs, `DEFAULT_${variable}`);
  if (constant !== undefined) return constant;
  const start = rs.indexOf(`get("${variable}")`);
  if (start < 0) return undefined;
  // The statement that reads the variable: up to the next variable read or the end of statement.
  const semicolon = rs.indexOf(';', start);
  const ends = [rs.indexOf('get("', start + 1), semicolon < 0 ? -1 : semicolon + 1].filter((i) => i >= 0);
  const block = rs.slice(start, ends.length > 0 ? Math.min(...ends) : undefined);
  const literalArm = /None \| Some\("([^"]*)"\)/.exec(block);
  if (literalArm) return literalArm[1];
  const noneArm = /None => ([A-Za-z0-9_]+)/.exec(block);
  if (noneArm) {
    if (noneArm[1] === 'None') {
      // `None => None` next to `Some(v) if v.eq_ignore_ascii_case("all") => None`: unset means "all".
      return /eq_ignore_ascii_case\("([^"]*)"\) => None/.exec(block)?.[1] ?? 'none';
    }
    const value = /^[\d_]+$/.test(noneArm[1]) ? noneArm[1].replace(/_/g, '') : rustConst(rs, noneArm[1]);
    if (value !== undefined) return value;
  }
  if (new RegExp(`^get\\("${variable}"\\)\\s*[;,]`).test(block)) return 'none';
  return helperDefault(rs, variable);
}

/** What disagrees between the table's rows and the function's config module. */
function disagreements(rows: readonly SettingRow[], rs: string): string[] {
  const problems: string[] = [];
  for (const row of rows) {
    if (row.env === undefined) continue;
    if (!rs.includes(`get("${row.env}")`)) {
      problems.push(`${row.key}: the function does not read ${row.env}`);
      continue;
    }
    if (row.functionDefault === undefined) continue;
    const actual = functionDefault(rs, row.env);
    if (actual === undefined) problems.push(`${row.key}: cannot find the function's default of ${row.env} in ${FUNCTION_CONFIG}`);
    else if (actual !== row.functionDefault) {
      problems.push(`${row.key}: the table says ${row.env} defaults to "${row.functionDefault}", the function to "${actual}"`);
    }
  }
  return problems;
}

describe('the settings table', () => {
  test('has one row per setting of the schema, each with a meaning', () => {
    const keys = settingsRows().map((r) => r.key);
    expect(new Set(keys).size).toBe(keys.length);
    expect(keys).toEqual(expect.arrayContaining([
      'model.source', 'model.variant.memoryMb', 'model.endpointName', 'function.preprocess', 'api.quota.period',
      'alarms.invocationsPerHour', 'rollout.endpoint.maxExecutionSeconds', 'dashboard',
      'api.routes', 'api.healthRateLimit', 'api.healthBurstLimit', 'model.invocations.contentType', 'model.invocations.accept',
      'model.target.inferenceComponent', 'model.target.targetModel', 'model.target.targetVariant',
      'model.target.targetContainerHostname', 'model.models', 'model.kmsKeyArn',
    ]));
    for (const r of settingsRows()) expect(r.description.length).toBeGreaterThan(5);
  });

  test('states the schema\'s defaults and the function\'s variables', () => {
    const byKey = Object.fromEntries(tableRows().map((r) => [r.key, r]));
    expect(byKey['function.memoryMb'].default).toBe('`512`');
    expect(byKey['api.quota.limit'].default).toBe('`10000`');
    expect(byKey['model.variant.type'].default).toBe('required');
    expect(byKey['function.preprocess']).toMatchObject({ env: 'PREPROCESS', functionDefault: 'oversize' });
    expect(byKey['function.defaultTopK'].default).toMatch(/^`all` \(function\); `5` for `bundled`/);
    expect(byKey['api.routes']).toMatchObject({ env: 'ROUTES', functionDefault: 'predictions,resize,invocations' });
    expect(byKey['model.invocations.contentType']).toMatchObject({ env: 'INVOCATIONS_CONTENT_TYPE', functionDefault: 'application/json' });
    expect(byKey['model.invocations.accept']).toMatchObject({ env: 'INVOCATIONS_ACCEPT', functionDefault: 'none' });
    expect(byKey['model.target.inferenceComponent']).toMatchObject({ env: 'TARGET_INFERENCE_COMPONENT', functionDefault: 'none' });
    expect(byKey['model.models']).toMatchObject({ env: 'MODELS', functionDefault: 'none' });
    expect(byKey['api.healthRateLimit'].default).toBe('`5`, at most `api.throttleRateLimit`');
  });

  test('lists exactly the schema\'s settings with the schema\'s defaults and variables', () => {
    const strip = (r: SettingRow) => ({ key: r.key, default: r.default, env: r.env, functionDefault: r.functionDefault });
    expect(tableRows().map(strip)).toEqual(settingsRows().map(strip));
  });

  test('names only variables the function reads, with the function\'s own defaults', () => {
    expect(disagreements(tableRows(), configRs())).toEqual([]);
    // The function's own settings are all checked, not skipped.
    const checked = tableRows().filter((r) => r.functionDefault !== undefined).map((r) => r.env);
    expect(checked).toEqual(expect.arrayContaining([
      'MODEL_CONTENT_TYPE', 'MODEL_OUTPUT', 'PREPROCESS', 'PREPROCESS_MAX_SIDE', 'DEFAULT_TOP_K',
      'ROUTES', 'INVOCATIONS_CONTENT_TYPE', 'INVOCATIONS_ACCEPT', 'TARGET_INFERENCE_COMPONENT', 'TARGET_MODEL',
      'TARGET_VARIANT', 'TARGET_CONTAINER_HOSTNAME', 'MODELS',
    ]));
  });

  test('the check fails on a default that differs, or a variable the function does not read', () => {
    const rs = configRs();
    const changed = rs.replace(/(const DEFAULT_PREPROCESS_MAX_SIDE: u32 = )512;/, '$1256;')
      .replace(/None \| Some\("oversize"\)/, 'None | Some("always")')
      .replace(/Some\("always"\) => Preprocess::Always/, 'Some("oversize") => Preprocess::Oversize');
    expect(changed).not.toBe(rs);
    expect(disagreements(tableRows(), changed)).toEqual(expect.arrayContaining([
      expect.stringMatching(/PREPROCESS_MAX_SIDE defaults to "512", the function to "256"/),
      expect.stringMatching(/PREPROCESS defaults to "oversize", the function to "always"/),
    ]));
    expect(disagreements([{ key: 'x', default: '', description: '', env: 'NO_SUCH_VARIABLE' }], rs))
      .toEqual(['x: the function does not read NO_SUCH_VARIABLE']);
  });

  test('the check fails when the function\'s route, invocation or allow-list defaults change', () => {
    const rs = configRs();
    const changed = rs.replace(/(impl Default for Routes \{[\s\S]*?resize: )true/, '$1false')
      .replace(/(const DEFAULT_INVOCATIONS_CONTENT_TYPE: &str = )"application\/json"/, '$1"text/csv"')
      .replace(/return Ok\(BTreeMap::new\(\)\);/, 'return Ok(default_models());');
    expect(changed).not.toBe(rs);
    expect(disagreements(tableRows(), changed)).toEqual(expect.arrayContaining([
      expect.stringMatching(/ROUTES defaults to "predictions,resize,invocations", the function to "predictions,invocations"/),
      expect.stringMatching(/INVOCATIONS_CONTENT_TYPE defaults to "application\/json", the function to "text\/csv"/),
      expect.stringMatching(/cannot find the function's default of MODELS/),
    ]));
  });

  test('reads the function\'s defaults in each shape its config module uses', () => {
    const rs = configRs();
    expect(functionDefault(rs, 'MODEL_CONTENT_TYPE')).toBe('application/x-image');
    expect(functionDefault(rs, 'MODEL_OUTPUT')).toBe('probabilities');
    expect(functionDefault(rs, 'DEFAULT_TOP_K')).toBe('all');
    expect(functionDefault(rs, 'PREPROCESS_MAX_SIDE')).toBe('512');
    expect(functionDefault(rs, 'CORS_ALLOW_ORIGIN')).toBe('none');
    expect(functionDefault(rs, 'MAX_IMAGE_BYTES')).toBe(String(6 * 1024 * 1024));
    expect(functionDefault(rs, 'ROUTES')).toBe('predictions,resize,invocations');
    expect(functionDefault(rs, 'INVOCATIONS_CONTENT_TYPE')).toBe('application/json');
    expect(functionDefault(rs, 'INVOCATIONS_ACCEPT')).toBe('none');
    expect(functionDefault(rs, 'TARGET_INFERENCE_COMPONENT')).toBe('none');
    expect(functionDefault(rs, 'TARGET_CONTAINER_HOSTNAME')).toBe('none');
    expect(functionDefault(rs, 'MODELS')).toBe('none');
  });
});

describe('the function variables the stack sets', () => {
  // A stage that sets every setting that becomes a variable.
  const everything = () => stageConfig('dev', {
    model: {
      contentType: 'image/jpeg', output: 'logits', labels: 'caltech-256',
      invocations: { contentType: 'text/csv', accept: 'application/json' },
      target: { inferenceComponent: 'ic-a', targetModel: 'm.tar.gz', targetVariant: 'AllTraffic', targetContainerHostname: 'c1' },
      models: { small: { inferenceComponent: 'ic-b' } },
    },
    function: { defaultTopK: 3, maxImageBytes: 2_000_000, preprocess: 'always', preprocessMaxSide: 224 },
    api: { corsAllowOrigin: '*', routes: ['predictions', 'invocations'] },
  });

  function envOf(config: ReturnType<typeof stageConfig>): string[] {
    const [[, fn]] = resourcesOf(synthStage(config).template, 'AWS::Lambda::Function');
    return Object.keys((fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables).sort();
  }

  test('are each read by the function and documented in the table', () => {
    const set = envOf(everything());
    const rs = configRs();
    for (const name of set) expect(`${name}: ${rs.includes(`get("${name}")`)}`).toBe(`${name}: true`);
    const documented = [...new Set(tableRows().flatMap((r) => (r.env ? [r.env] : [])))].sort();
    expect(set).toEqual(documented);
  });

  test('leave the function\'s own settings unset when cdk.json does not set them', () => {
    const set = envOf(stageConfig('prod'));
    const functionOwned = tableRows().filter((r) => r.functionDefault !== undefined && r.key !== 'function.defaultTopK').map((r) => r.env!);
    expect(functionOwned.length).toBeGreaterThan(3);
    for (const name of functionOwned) expect(set).not.toContain(name);
  });
});

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

/**
 * The default the function applies when `variable` is unset, as read from its config module:
 * a `DEFAULT_<VARIABLE>` constant, or the `None` arm of the code that reads the variable.
 * `undefined` when the code takes a shape this reader does not know (the test then says so).
 */
function functionDefault(rs: string, variable: string): string | undefined {
  const constant = rustConst(rs, `DEFAULT_${variable}`);
  if (constant !== undefined) return constant;
  const start = rs.indexOf(`get("${variable}")`);
  if (start < 0) return undefined;
  const next = rs.indexOf('get("', start + 1);
  const block = rs.slice(start, next < 0 ? undefined : next);
  const literalArm = /None \| Some\("([^"]*)"\)/.exec(block);
  if (literalArm) return literalArm[1];
  const noneArm = /None => ([A-Za-z0-9_]+)/.exec(block);
  if (noneArm) {
    if (noneArm[1] === 'None') {
      // `None => None` next to `Some(v) if v.eq_ignore_ascii_case("all") => None`: unset means "all".
      return /eq_ignore_ascii_case\("([^"]*)"\) => None/.exec(block)?.[1] ?? 'none';
    }
    return /^[\d_]+$/.test(noneArm[1]) ? noneArm[1].replace(/_/g, '') : rustConst(rs, noneArm[1]);
  }
  if (new RegExp(`^get\\("${variable}"\\)\\s*[;,]`).test(block)) return 'none';
  return undefined;
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
  });

  test('lists exactly the schema\'s settings with the schema\'s defaults and variables', () => {
    const strip = (r: SettingRow) => ({ key: r.key, default: r.default, env: r.env, functionDefault: r.functionDefault });
    expect(tableRows().map(strip)).toEqual(settingsRows().map(strip));
  });

  test('names only variables the function reads, with the function\'s own defaults', () => {
    expect(disagreements(tableRows(), configRs())).toEqual([]);
    // The function's own settings are all checked, not skipped.
    const checked = tableRows().filter((r) => r.functionDefault !== undefined).map((r) => r.env);
    expect(checked).toEqual(expect.arrayContaining(['MODEL_CONTENT_TYPE', 'MODEL_OUTPUT', 'PREPROCESS', 'PREPROCESS_MAX_SIDE', 'DEFAULT_TOP_K']));
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

  test('reads the function\'s defaults in each shape its config module uses', () => {
    const rs = configRs();
    expect(functionDefault(rs, 'MODEL_CONTENT_TYPE')).toBe('application/x-image');
    expect(functionDefault(rs, 'MODEL_OUTPUT')).toBe('probabilities');
    expect(functionDefault(rs, 'DEFAULT_TOP_K')).toBe('all');
    expect(functionDefault(rs, 'PREPROCESS_MAX_SIDE')).toBe('512');
    expect(functionDefault(rs, 'CORS_ALLOW_ORIGIN')).toBe('none');
    expect(functionDefault(rs, 'MAX_IMAGE_BYTES')).toBe(String(6 * 1024 * 1024));
  });
});

describe('the function variables the stack sets', () => {
  // A stage that sets every setting that becomes a variable.
  const everything = () => stageConfig('dev', {
    model: { contentType: 'image/jpeg', output: 'logits', labels: 'caltech-256' },
    function: { defaultTopK: 3, maxImageBytes: 2_000_000, preprocess: 'always', preprocessMaxSide: 224 },
    api: { corsAllowOrigin: '*' },
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

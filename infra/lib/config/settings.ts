/**
 * The settings reference table, rendered from the schema: one row per `cdk.json` setting with its
 * default, the function variable it sets and its meaning. The docs carry this table
 * (`npm run --silent settings-table` prints it) and a test checks it against the schema and
 * against the function's own defaults.
 */
import { z } from 'zod';
import { SettingMeta, stageSchema } from './schema';

/** One row of the settings table. */
export interface SettingRow {
  /** Key path inside a stage, e.g. `function.preprocess`. */
  readonly key: string;
  /** The default as the table states it. */
  readonly default: string;
  /** The function's environment variable the setting sets. @default none */
  readonly env?: string;
  /**
   * The function's own default, when the stack leaves the variable unset; in the table, the code
   * span marked `(function)` in the default column.
   */
  readonly functionDefault?: string;
  readonly description: string;
}

interface JsonSchemaNode extends Partial<SettingMeta> {
  readonly properties?: Record<string, JsonSchemaNode>;
  readonly required?: string[];
  readonly oneOf?: JsonSchemaNode[];
  readonly anyOf?: JsonSchemaNode[];
  readonly default?: unknown;
}

/** Every setting of a stage, in schema order (union members merged: `model.*` of every source). */
export function settingsRows(): SettingRow[] {
  const root = z.toJSONSchema(stageSchema, { io: 'input', unrepresentable: 'any' }) as JsonSchemaNode;
  const rows = new Map<string, SettingRow>();
  walk(root, [], false, undefined, rows);
  return [...rows.values()];
}

/**
 * @param inherited the value the enclosing section defaults to, when it has one (`api.quota`
 *   defaults as a whole, so its keys are not "required" unless the section is given)
 */
function walk(node: JsonSchemaNode, path: string[], required: boolean, inherited: unknown, rows: Map<string, SettingRow>): void {
  const options = node.oneOf ?? node.anyOf;
  if (options && options.every((o) => o.properties)) {
    for (const o of options) walk(o, path, required, inherited, rows);
    return;
  }
  if (node.properties) {
    const sectionDefault = (node.default ?? inherited) as Record<string, unknown> | undefined;
    for (const [key, child] of Object.entries(node.properties)) {
      const childDefault = sectionDefault?.[key];
      const withDefault = child.default === undefined && childDefault !== undefined ? { ...child, default: childDefault } : child;
      walk(withDefault, [...path, key], node.required?.includes(key) ?? false, childDefault, rows);
    }
    return;
  }
  const key = path.join('.');
  if (node.description === undefined) {
    throw new Error(`setting ${key} has no description in the schema (.meta({ description }))`);
  }
  const previous = rows.get(key);
  // Across union members the first description wins; a default stated by any member counts.
  if (previous && (previous.default !== 'required' && previous.default !== 'none')) return;
  rows.set(key, {
    key,
    default: defaultCell(node, required),
    env: node.env,
    functionDefault: node.functionDefault,
    description: previous?.description ?? node.description,
  });
}

function defaultCell(n: JsonSchemaNode, required: boolean): string {
  if (n.functionDefault !== undefined) {
    return `\`${n.functionDefault}\` (function)${n.defaultText ? `; ${n.defaultText}` : ''}`;
  }
  if (n.default !== undefined) return `\`${typeof n.default === 'string' ? n.default : JSON.stringify(n.default)}\``;
  if (n.defaultText !== undefined) return n.defaultText;
  return required ? 'required' : 'none';
}

const HEADER = '| key | default | variable | meaning |';

/** The rows as a Markdown table (the docs' settings reference). */
export function renderSettingsTable(rows: readonly SettingRow[] = settingsRows()): string {
  const cell = (s: string) => s.replace(/\|/g, '\\|');
  return [
    HEADER,
    '| --- | --- | --- | --- |',
    ...rows.map((r) => `| \`${r.key}\` | ${cell(r.default)} | ${r.env ? `\`${r.env}\`` : ''} | ${cell(r.description)} |`),
  ].join('\n');
}

/**
 * Reads the settings table back from Markdown (the first table whose header is
 * `| key | default | variable | meaning |`), e.g. from the docs.
 *
 * @throws Error when the text has no such table.
 */
export function parseSettingsTable(markdown: string): SettingRow[] {
  const lines = markdown.split('\n');
  const start = lines.findIndex((l) => l.trim().replace(/\s+/g, ' ') === HEADER);
  if (start < 0) throw new Error(`no settings table (header "${HEADER}") found`);
  const rows: SettingRow[] = [];
  for (const line of lines.slice(start + 2)) {
    if (!line.trim().startsWith('|')) break;
    const cells = line.trim().slice(1, -1).split(/(?<!\\)\|/).map((c) => c.trim().replace(/\\\|/g, '|'));
    const [key, def, env, description] = cells;
    const unquote = (s: string) => s.replace(/^`|`$/g, '');
    const functionDefault = /`([^`]*)` \(function\)/.exec(def)?.[1];
    rows.push({ key: unquote(key), default: def, env: env ? unquote(env) : undefined, functionDefault, description });
  }
  return rows;
}

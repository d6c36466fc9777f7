/**
 * Jest global setup: the whole run gets a temp dir of its own (TMPDIR, inherited by the workers
 * and every process they start), so that global-teardown.js can prove the tests left nothing in it.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export default async function globalSetup(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sagefront-jest-'));
  process.env.SAGEFRONT_JEST_TMPDIR = dir;
  process.env.TMPDIR = dir;
  // ts-node's compile cache would otherwise be the one thing that lingers there by design.
  process.env.DISABLE_V8_COMPILE_CACHE = '1';
}

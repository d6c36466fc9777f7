/**
 * Jest global teardown: fails the run when a test left anything in the run's temp dir (see
 * global-setup.ts), naming it; removes the dir either way so nothing lingers in /tmp.
 */
import * as fs from 'node:fs';

export default async function globalTeardown(): Promise<void> {
  const dir = process.env.SAGEFRONT_JEST_TMPDIR;
  if (!dir) return;
  const left = fs.readdirSync(dir);
  fs.rmSync(dir, { recursive: true, force: true });
  if (left.length > 0) {
    throw new Error(`the tests left ${left.length} entries in the temp dir (each test must remove what it creates, `
      + `e.g. with tempDir() from infra/test/helpers.ts): ${left.sort().join(', ')}`);
  }
}

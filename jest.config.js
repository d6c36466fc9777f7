/** Jest runs the CDK app's unit tests (infra/test) through ts-jest; `npm test` calls it. */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/infra/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.tsx?$': 'ts-jest',
  },
  // A temp dir per run, checked empty at the end: tests clean up after themselves.
  globalSetup: '<rootDir>/infra/test/global-setup.ts',
  globalTeardown: '<rootDir>/infra/test/global-teardown.ts',
  // Jest's transform cache, kept with the other local caches instead of in the temp dir.
  cacheDirectory: '<rootDir>/node_modules/.cache/jest',
  // Synthesizing stacks with real constructs takes a few seconds per app on a shared 2-core box.
  testTimeout: 60000,
};

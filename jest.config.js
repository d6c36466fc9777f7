/** Jest runs the CDK app's unit tests (infra/test) through ts-jest; `npm test` calls it. */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/infra/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.tsx?$': 'ts-jest',
  },
  // Synthesizing stacks with real constructs takes a few seconds per app on a shared 2-core box.
  testTimeout: 60000,
};

// Nest 12 is ESM-only and Node 20's jest cannot require() it, so the suite runs in
// jest's native ESM mode (see `npm test`). Type-checking is done by `npm run typecheck`;
// ts-jest only transpiles here, which keeps the suite's start-up in seconds.
/** @type {import('jest').Config} */
export default {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.spec.ts'],
  // The fault suite runs on its own (npm run test:faults, jest.faults.config.js).
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/faults/'],
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: {
    '^(\\.{1,2}/.*)\\.js$': '$1',
    // The README's examples import the package by name; in tests that is the source.
    '^@fetchcraft/queue$': '<rootDir>/src/index.ts',
  },
  transform: {
    '^.+\\.ts$': [
      'ts-jest',
      {
        useESM: true,
        tsconfig: {
          isolatedModules: true,
          experimentalDecorators: true,
          emitDecoratorMetadata: true,
        },
      },
    ],
  },
  globalSetup: '<rootDir>/test/support/global-setup.mjs',
  globalTeardown: '<rootDir>/test/support/global-teardown.mjs',
  testTimeout: 60_000,
  maxWorkers: 2,
  // The longest files first, also on a clone with no jest cache (see the file).
  testSequencer: '<rootDir>/test/support/slow-first-sequencer.mjs',
};

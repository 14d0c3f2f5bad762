// The fault suite (npm run test:faults): real worker processes and a PostgreSQL the suite
// restarts itself, so it runs alone, one test at a time.
import base from './jest.config.js';

/** @type {import('jest').Config} */
export default {
  ...base,
  roots: ['<rootDir>/test/faults'],
  testPathIgnorePatterns: ['/node_modules/'],
  testTimeout: 700_000,
  maxWorkers: 1,
};

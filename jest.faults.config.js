// The fault suite (npm run test:faults): real worker processes, and PostgreSQL servers the specs
// restart themselves. Two files at a time: the specs that restart or fail over a server start
// their own (faults.spec.ts, failover.spec.ts), so no file disturbs another's server, and the
// longest file (faults.spec.ts, three minutes) runs beside the others instead of before them.
import base from './jest.config.js';

/** @type {import('jest').Config} */
export default {
  ...base,
  roots: ['<rootDir>/test/faults'],
  testPathIgnorePatterns: ['/node_modules/'],
  testTimeout: 700_000,
  maxWorkers: 2,
};

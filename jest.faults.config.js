// The fault suite (npm run test:faults): real worker processes, and PostgreSQL servers the specs
// restart themselves. Two files at a time: the specs that restart or fail over a server start
// their own (faults.spec.ts, faults-contention.spec.ts, failover.spec.ts), so no file disturbs
// another's server. The faults are split in two files of about two minutes each, so the two
// workers end close together instead of one running a four-minute file while the other idles.
import base from './jest.config.js';

/** @type {import('jest').Config} */
export default {
  ...base,
  roots: ['<rootDir>/test/faults'],
  testPathIgnorePatterns: ['/node_modules/'],
  testTimeout: 700_000,
  maxWorkers: 2,
};

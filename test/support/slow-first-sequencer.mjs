// Jest starts the slowest files first when its cache knows how long each took; on a fresh clone
// (CI) it knows nothing and orders by file size, which can leave a one-minute file to start last
// and run alone at the end while the other worker idles. Where the cache has no duration, these
// figures stand in (seconds on a loaded two-core machine, from CI runs); they only order files.
// A file not listed counts as short: after the listed ones, the larger first, as jest would.
import { relative } from 'node:path';
import Sequencer from '@jest/test-sequencer';

const ESTIMATED_SECONDS = {
  // npm test
  'test/e2e/consumer.spec.ts': 60,
  'test/e2e/bench-smoke.spec.ts': 50,
  'test/e2e/demo.spec.ts': 45,
  'test/integration/flow-control.spec.ts': 40,
  'test/integration/migrate-flow.spec.ts': 35,
  'test/e2e/import-sqlite.spec.ts': 35,
  'test/integration/pause-resume.spec.ts': 27,
  'test/integration/flows.spec.ts': 27,
  'test/integration/schedules.spec.ts': 26,
  'test/integration/cancel.spec.ts': 25,
  'test/integration/processors/crash.spec.ts': 24,
  'test/integration/failover.spec.ts': 25,
  'test/integration/processors/lifecycle.spec.ts': 20,
  'test/e2e/cli.spec.ts': 20,
  'test/integration/timeouts.spec.ts': 17,
  'test/integration/module.spec.ts': 16,
  'test/integration/python-table.spec.ts': 15,
  'test/integration/processors/worker.spec.ts': 15,
  'test/integration/queue-service.spec.ts': 13,
  'test/integration/bad-input.spec.ts': 13,
  'test/integration/results.spec.ts': 12,
  'test/integration/concurrency.spec.ts': 12,
  'test/integration/health.spec.ts': 9,
  'test/integration/events.spec.ts': 9,
  'test/integration/maintenance.spec.ts': 8,
  'test/integration/pgbouncer.spec.ts': 8,
  'test/integration/transactions.spec.ts': 8,
  'test/e2e/cli-operate.spec.ts': 8,
  // npm run test:faults
  'test/faults/faults.spec.ts': 130,
  'test/faults/failover.spec.ts': 110,
  'test/faults/faults-contention.spec.ts': 105,
  'test/faults/rate-limit.spec.ts': 70,
  'test/faults/exactly-once.spec.ts': 30,
  'test/faults/hostile-http.spec.ts': 5,
};

export default class SlowFirstSequencer extends Sequencer {
  time(test) {
    const cached = super.time(test);
    if (cached !== undefined) return cached;
    const estimate = ESTIMATED_SECONDS[relative(test.context.config.rootDir, test.path)];
    if (estimate !== undefined) return estimate * 1_000;
    // Under a second for any file under 100 kB: after every listed file, by size among the rest.
    return (test.context.hasteFS.getSize(test.path) ?? 0) / 100;
  }
}

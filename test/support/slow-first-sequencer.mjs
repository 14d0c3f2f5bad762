// Jest starts the slowest files first when its cache knows how long each took; on a fresh clone
// (CI) it knows nothing and orders by file size, which can leave the longest file to start last
// and run alone at the end while the other worker idles. Where the cache has no duration, these
// figures stand in (seconds on a loaded two-core machine, from CI logs); they only order files.
import { relative } from 'node:path';
import Sequencer from '@jest/test-sequencer';

const ESTIMATED_SECONDS = {
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
    return estimate === undefined ? undefined : estimate * 1_000;
  }
}

import { describe, expect, it } from '@jest/globals';
import { judgeVacuum } from '../../src/health/vacuum-limits.js';
import { type HorizonHolder, type TableVacuumFacts } from '../../src/store/diagnostics-rows.js';

const table = (deadTuples: number): TableVacuumFacts => ({
  liveTuples: 500,
  deadTuples,
  autovacuumAgeSeconds: null,
  vacuumAgeSeconds: null,
  autovacuumCount: 0,
  tableBytes: 0,
  indexBytes: 0,
  rowWidth: null,
  fillfactor: 100,
  blockSize: 8192,
});

const holder = (overrides: Partial<HorizonHolder>): HorizonHolder => ({
  source: 'session',
  id: '77',
  role: 'secret_role',
  applicationName: 'secret-app',
  state: 'idle in transaction',
  command: 'SELECT',
  ageSeconds: 30.7,
  queryAgeSeconds: 30,
  xidAge: 3,
  ...overrides,
});

const visible = { seesAll: true, hiddenSessions: 0 };
const limits = { maxHorizonAgeSeconds: 30, maxDeadTuples: 1_000 };

describe('judgeVacuum', () => {
  it('crosses a limit only past it, and reports numbers without naming anyone', () => {
    const at = judgeVacuum(
      {
        horizon: { holders: [holder({ ageSeconds: 30.9 })], visibility: visible },
        table: table(1_000),
      },
      limits,
    );
    expect(at).toEqual({
      details: {
        horizonAgeSeconds: 30,
        horizonHeldBy: 'a session (idle in transaction)',
        deadTuples: 1_000,
        liveTuples: 500,
      },
      crossed: [],
    });
    const past = judgeVacuum(
      {
        horizon: {
          holders: [holder({ ageSeconds: 5 }), holder({ source: 'prepared', ageSeconds: 31 })],
          visibility: visible,
        },
        table: table(1_001),
      },
      limits,
    );
    expect(past.crossed).toEqual([
      'vacuum held back by a prepared transaction open 31 s > maxHorizonAgeSeconds 30',
      'dead tuples 1001 > maxDeadTuples 1000',
    ]);
    expect(JSON.stringify(past)).not.toMatch(/secret|77/);
  });

  it('checks nothing that is turned off, counts hidden sessions, and bears a missing table', () => {
    const result = judgeVacuum(
      {
        horizon: {
          holders: [holder({ source: 'slot', ageSeconds: null, xidAge: 1e9 })],
          visibility: { seesAll: false, hiddenSessions: 2 },
        },
        table: null,
      },
      { maxHorizonAgeSeconds: false, maxDeadTuples: false },
    );
    expect(result).toEqual({
      details: { horizonAgeSeconds: 0, deadTuples: null, liveTuples: null, hiddenSessions: 2 },
      crossed: [],
    });
    expect(
      judgeVacuum(
        {
          horizon: { holders: [holder({ ageSeconds: 4_000 })], visibility: visible },
          table: table(9e9),
        },
        { maxHorizonAgeSeconds: false, maxDeadTuples: false },
      ).crossed,
    ).toEqual([]);
  });
});

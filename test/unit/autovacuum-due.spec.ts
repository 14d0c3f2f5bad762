import { describe, expect, it } from '@jest/globals';
import { autovacuumDue, type TableActivity } from '../../bench/autovacuum-due.js';

// PostgreSQL's defaults.
const settings = {
  autovacuum: true,
  autovacuum_vacuum_threshold: 50,
  autovacuum_vacuum_scale_factor: 0.2,
  autovacuum_vacuum_insert_threshold: 1000,
  autovacuum_vacuum_insert_scale_factor: 0.2,
  autovacuum_analyze_threshold: 50,
  autovacuum_analyze_scale_factor: 0.1,
};

const table = (fields: Partial<TableActivity>): TableActivity => ({
  name: 'messages',
  reltuples: -1,
  deadTuples: 0,
  insertedSinceVacuum: 0,
  modifiedSinceAnalyze: 0,
  reloptions: null,
  ...fields,
});

describe('autovacuumDue', () => {
  it('is due after a load into a never-vacuumed table: insert and analyze thresholds', () => {
    expect(
      autovacuumDue(table({ insertedSinceVacuum: 10_000, modifiedSinceAnalyze: 10_000 }), settings),
    ).toEqual({ vacuum: true, analyze: true });
  });

  it('is quiet once vacuumed and analyzed', () => {
    expect(autovacuumDue(table({ reltuples: 10_000 }), settings)).toEqual({
      vacuum: false,
      analyze: false,
    });
  });

  it('scales the thresholds with the table', () => {
    const big = { reltuples: 1_000_000 };
    // 1000 + 0.2 * 1M = 201,000 inserted; 50 + 0.2 * 1M dead; 50 + 0.1 * 1M modified.
    expect(autovacuumDue(table({ ...big, insertedSinceVacuum: 200_000 }), settings).vacuum).toBe(
      false,
    );
    expect(autovacuumDue(table({ ...big, insertedSinceVacuum: 201_001 }), settings).vacuum).toBe(
      true,
    );
    expect(autovacuumDue(table({ ...big, deadTuples: 200_051 }), settings).vacuum).toBe(true);
    expect(autovacuumDue(table({ ...big, modifiedSinceAnalyze: 100_050 }), settings).analyze).toBe(
      false,
    );
    expect(autovacuumDue(table({ ...big, modifiedSinceAnalyze: 100_051 }), settings).analyze).toBe(
      true,
    );
  });

  it("follows the table's own settings, autovacuum off, and insert vacuums turned off", () => {
    const loaded = table({ insertedSinceVacuum: 10_000, modifiedSinceAnalyze: 10_000 });
    expect(
      autovacuumDue({ ...loaded, reloptions: ['autovacuum_enabled=false'] }, settings),
    ).toEqual({ vacuum: false, analyze: false });
    expect(autovacuumDue(loaded, { ...settings, autovacuum: false })).toEqual({
      vacuum: false,
      analyze: false,
    });
    expect(
      autovacuumDue({ ...loaded, reloptions: ['autovacuum_vacuum_insert_threshold=-1'] }, settings)
        .vacuum,
    ).toBe(false);
    expect(
      autovacuumDue({ ...loaded, reloptions: ['autovacuum_analyze_threshold=20000'] }, settings)
        .analyze,
    ).toBe(false);
  });
});

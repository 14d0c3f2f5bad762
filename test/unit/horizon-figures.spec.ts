import { describe, expect, it } from '@jest/globals';
import {
  formatBytes,
  phaseTableFigures,
  recoveryAfterCommit,
  spaceAfterCommit,
  type TableSample,
  throughputRatio,
} from '../../bench/horizon-figures.js';

const look = (at: number, fields: Partial<TableSample> = {}): TableSample => ({
  at,
  phase: 'pinned',
  heapBytes: 0,
  indexBytes: 0,
  totalBytes: 0,
  liveTuples: 0,
  deadTuples: 0,
  vacuums: 0,
  walBytes: 0,
  walLsnBytes: 0,
  ...fields,
});

describe('phaseTableFigures', () => {
  it('takes end and peak sizes, growth per message, and WAL and vacuums as differences', () => {
    const start = look(0, { heapBytes: 1_000, indexBytes: 100, walBytes: 50, vacuums: 2 });
    const figures = phaseTableFigures(
      start,
      [
        look(5_000, { heapBytes: 9_000, indexBytes: 700, deadTuples: 40, walBytes: 300 }),
        look(9_000, {
          heapBytes: 5_000,
          indexBytes: 500,
          deadTuples: 10,
          liveTuples: 7,
          walBytes: 650,
          walLsnBytes: 80,
          vacuums: 3,
        }),
      ],
      100,
    );
    expect(figures).toEqual({
      heapBytesAtEnd: 5_000,
      heapBytesPeak: 9_000,
      indexBytesAtEnd: 500,
      indexBytesPeak: 700,
      heapBytesPerMessage: 40,
      indexBytesPerMessage: 4,
      totalBytesAtEnd: 0,
      liveTuplesAtEnd: 7,
      deadTuplesAtEnd: 10,
      deadTuplesPeak: 40,
      vacuums: 1,
      walBytes: 600,
      walLsnBytes: 80,
    });
  });
});

describe('throughputRatio', () => {
  it('is pinned over clean', () => {
    expect(throughputRatio(2_000, 1_700)).toBeCloseTo(0.85);
    expect(throughputRatio(0, 1)).toBeNaN();
  });
});

describe('recoveryAfterCommit', () => {
  // One pickup every 10 ms for 30 s; latency 1,000 ms for the first 12 s, then 20 ms.
  const pickupAt = Array.from({ length: 3_000 }, (_, i) => i * 10);
  const pickupMs = pickupAt.map((at) => (at < 12_000 ? 1_000 : 20));
  // The backlog drains by 10 s.
  const backlog = Array.from({ length: 300 }, (_, i) => ({
    at: i * 100,
    backlog: i * 100 < 10_000 ? 5_000 : 100,
  }));

  it('is the first second with a drained backlog and the next 5 s p99 within 2× clean', () => {
    const recovery = recoveryAfterCommit({
      phaseMs: 30_000,
      backlog,
      pickupAt,
      pickupMs,
      cleanP99Ms: 50,
      backlogLimit: 1_000,
    });
    expect(recovery.seconds).toBe(12);
    expect(recovery.firstSeconds).toBe(12);
    expect(recovery.p99LimitMs).toBe(100);
    expect(recovery.windows.map((w) => [w.fromSeconds, w.p99Ms, w.peakBacklog])).toEqual([
      [0, 1_000, 5_000],
      [5, 1_000, 5_000],
      [10, 1_000, 100],
      [15, 20, 100],
      [20, 20, 100],
      [25, 20, 100],
    ]);
  });

  it('counts recovery from the last slip back out of bounds, and tells the first entry apart', () => {
    const recovery = recoveryAfterCommit({
      phaseMs: 30_000,
      backlog,
      pickupAt,
      pickupMs: pickupAt.map((at) => (at < 12_000 || (at >= 22_000 && at < 23_000) ? 1_000 : 20)),
      cleanP99Ms: 50,
      backlogLimit: 1_000,
    });
    expect(recovery.firstSeconds).toBe(12);
    expect(recovery.seconds).toBe(23);
  });

  it('waits for the backlog too, and says null when the phase ends first', () => {
    expect(
      recoveryAfterCommit({
        phaseMs: 30_000,
        backlog: backlog.map((b) => ({ ...b, backlog: b.at < 20_000 ? 5_000 : 0 })),
        pickupAt,
        pickupMs,
        cleanP99Ms: 50,
        backlogLimit: 1_000,
      }).seconds,
    ).toBe(20);
    expect(
      recoveryAfterCommit({
        phaseMs: 30_000,
        backlog,
        pickupAt,
        pickupMs,
        cleanP99Ms: 5,
        backlogLimit: 1_000,
      }).seconds,
    ).toBeNull();
  });

  it('does not count a window with no pickups as recovered', () => {
    expect(
      recoveryAfterCommit({
        phaseMs: 10_000,
        backlog: [{ at: 0, backlog: 0 }],
        pickupAt: [],
        pickupMs: [],
        cleanP99Ms: 50,
        backlogLimit: 1_000,
      }).seconds,
    ).toBeNull();
  });
});

describe('spaceAfterCommit', () => {
  it('compares the commit with the end, and times the first vacuum and the halving', () => {
    const atCommit = look(60_000, {
      heapBytes: 8_000,
      indexBytes: 800,
      deadTuples: 1_000,
      vacuums: 4,
    });
    const space = spaceAfterCommit(
      atCommit,
      [
        look(65_000, { heapBytes: 8_500, deadTuples: 1_200, vacuums: 4 }),
        look(70_000, { heapBytes: 8_600, deadTuples: 900, vacuums: 5 }),
        look(75_000, { heapBytes: 8_600, indexBytes: 820, deadTuples: 30, vacuums: 5 }),
      ],
      60_100,
    );
    expect(space).toEqual({
      heapBytesAtCommit: 8_000,
      heapBytesAtEnd: 8_600,
      indexBytesAtCommit: 800,
      indexBytesAtEnd: 820,
      deadTuplesAtCommit: 1_000,
      deadTuplesAtEnd: 30,
      deadTuplesHalvedAfterSeconds: 14.9,
      firstVacuumAfterSeconds: 9.9,
    });
  });
});

describe('formatBytes', () => {
  it('shows kB below a MiB and MiB with one decimal above', () => {
    expect(formatBytes(8_192)).toBe('8 kB');
    expect(formatBytes(3 * 1024 * 1024 + 512 * 1024)).toBe('3.5 MiB');
  });
});

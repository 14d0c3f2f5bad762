import { describe, expect, it } from '@jest/globals';
import {
  cpuPerMessage,
  parseMachineTicks,
  parseProcStat,
  recordCounts,
  serverSnapshot,
  serverTicksBetween,
  walPerMessage,
  type ProcStat,
} from '../../bench/drain-cost-math.js';
import { isNoisy, otherCoresOf, quietest } from '../../bench/noise.js';

// A real line's shape (proc(5)): utime 14, stime 15, cutime 16, cstime 17, starttime 22.
const statLine = (
  pid: number,
  comm: string,
  ppid: number,
  [utime, stime, cutime, cstime]: number[],
  starttime = 1000,
) =>
  `${pid} (${comm}) S ${ppid} ${pid} ${pid} 0 -1 4194560 120 0 0 0 ${utime} ${stime} ${cutime} ${cstime} 20 0 1 0 ${starttime} 226779136 2163 18446744073709551615`;

const proc = (
  pid: number,
  ppid: number,
  times: number[],
  starttime = 1000,
  comm = 'postgres',
): ProcStat => parseProcStat(statLine(pid, comm, ppid, times, starttime))!;

describe('parseProcStat', () => {
  it('reads the CPU fields and the parent, whatever the command name holds', () => {
    expect(parseProcStat(statLine(42, 'postgres', 7, [11, 22, 33, 44], 555))).toEqual({
      pid: 42,
      comm: 'postgres',
      ppid: 7,
      utime: 11,
      stime: 22,
      cutime: 33,
      cstime: 44,
      starttime: 555,
    });
    expect(parseProcStat(statLine(9, 'a b) (c', 1, [1, 2, 3, 4]))).toMatchObject({
      comm: 'a b) (c',
      ppid: 1,
      utime: 1,
      cstime: 4,
    });
  });

  it('refuses what is not a stat line', () => {
    expect(parseProcStat('')).toBeUndefined();
    expect(parseProcStat('12 (x) S')).toBeUndefined();
  });
});

describe('parseMachineTicks', () => {
  it('counts user, nice, system, irq, softirq and steal as busy; idle and iowait as idle', () => {
    const text = 'cpu  100 2 30 500 7 1 4 3 9 0\ncpu0 50 1 15 250 3 0 2 1 0 0\nintr 1\n';
    expect(parseMachineTicks(text)).toEqual({ busy: 140, idle: 507 });
  });

  it('is undefined without a cpu line', () => {
    expect(parseMachineTicks('intr 1\n')).toBeUndefined();
  });
});

describe('serverTicksBetween', () => {
  const pm = 100;

  it('sums the children that lived through the window and the postmaster itself', () => {
    const start = serverSnapshot(pm, [proc(pm, 1, [10, 5, 0, 0]), proc(101, pm, [20, 10, 0, 0])])!;
    const end = serverSnapshot(pm, [proc(pm, 1, [12, 6, 0, 0]), proc(101, pm, [50, 20, 0, 0])])!;
    expect(serverTicksBetween(start, end)).toBe(3 + 40);
  });

  it('counts a child born in the window whole, and leaves out processes of another parent', () => {
    const start = serverSnapshot(pm, [proc(pm, 1, [0, 0, 0, 0]), proc(7, 1, [5, 5, 0, 0])])!;
    const end = serverSnapshot(pm, [
      proc(pm, 1, [0, 0, 0, 0]),
      proc(102, pm, [8, 2, 0, 0]),
      proc(7, 1, [50, 50, 0, 0]),
    ])!;
    expect(serverTicksBetween(start, end)).toBe(10);
  });

  it("takes an exited child's time from the postmaster's reaped time, less what it used before", () => {
    const start = serverSnapshot(pm, [proc(pm, 1, [0, 0, 0, 0]), proc(103, pm, [30, 10, 0, 0])])!;
    // It used 40 ticks before the window and 15 in it; the postmaster reaped all 55.
    const end = serverSnapshot(pm, [proc(pm, 1, [0, 0, 45, 10])])!;
    expect(serverTicksBetween(start, end)).toBe(15);
  });

  it('tells a process from a later one that reused its pid', () => {
    const start = serverSnapshot(pm, [proc(pm, 1, [0, 0, 0, 0]), proc(104, pm, [30, 0, 0, 0], 1)])!;
    const end = serverSnapshot(pm, [proc(pm, 1, [0, 0, 35, 0]), proc(104, pm, [4, 0, 0, 0], 2)])!;
    expect(serverTicksBetween(start, end)).toBe(5 + 4);
  });

  it('has no snapshot when the postmaster is gone', () => {
    expect(serverSnapshot(pm, [proc(101, pm, [1, 1, 0, 0])])).toBeUndefined();
  });
});

describe('walPerMessage', () => {
  it('groups record counts by kind, +INIT with its kind, and divides by the messages', () => {
    const perMessage = walPerMessage(
      {
        'Heap/INSERT': 900,
        'Heap/INSERT+INIT': 100,
        'Heap/UPDATE': 1_500,
        'Heap/UPDATE+INIT': 500,
        'Heap/HOT_UPDATE': 1_000,
        'Heap/DELETE': 1_000,
        'Heap/LOCK': 3_000,
        'Heap2/MULTI_INSERT+INIT': 4,
        'Heap2/LOCK_UPDATED': 10,
        'Btree/INSERT_LEAF': 3_990,
        'Btree/INSERT_POST': 10,
        'Btree/SPLIT_L': 3,
        'Btree/SPLIT_R': 7,
        'Btree/INSERT_UPPER': 9,
        'Btree/NEWROOT': 1,
        'Transaction/COMMIT': 50,
      },
      1_000,
    );
    expect(perMessage).toEqual({
      heap: {
        insert: 1,
        update: 2,
        hotUpdate: 1,
        delete: 1,
        lock: 3,
        multiInsert: 0.004,
        lockUpdated: 0.01,
      },
      indexEntries: 4,
      indexSplits: 0.01,
      indexUpper: 0.01,
    });
  });

  it('is all zero without messages rather than dividing by zero', () => {
    expect(walPerMessage({ 'Heap/INSERT': 5 }, 0).heap.insert).toBe(0);
  });
});

describe('recordCounts', () => {
  it('keeps the totals by kind apart from the counts by relation', () => {
    expect(
      recordCounts([
        { kind: 'Heap/UPDATE', rel: null, n: 10 },
        { kind: 'Heap/UPDATE', rel: 'messages', n: 10 },
        { kind: 'Btree/INSERT_LEAF', rel: null, n: 7 },
        { kind: 'Btree/INSERT_LEAF', rel: 'messages_pkey', n: 4 },
        { kind: 'Btree/INSERT_LEAF', rel: 'messages_ready_idx', n: 3 },
      ]),
    ).toEqual({
      records: { 'Heap/UPDATE': 10, 'Btree/INSERT_LEAF': 7 },
      byRelation: {
        messages: { 'Heap/UPDATE': 10 },
        messages_pkey: { 'Btree/INSERT_LEAF': 4 },
        messages_ready_idx: { 'Btree/INSERT_LEAF': 3 },
      },
    });
  });
});

describe('cpuPerMessage', () => {
  const totals = {
    nodeUs: 2_000_000,
    postgresTicks: 300,
    machineBusyTicks: 600,
    ticksPerSecond: 100,
    seconds: 4,
  };

  it('splits the machine busy time into node, postgres and the rest, per message', () => {
    expect(cpuPerMessage(totals, 10_000)).toEqual({
      nodeUs: 200,
      postgresUs: 300,
      otherUs: 100,
      otherCores: 0.25,
    });
  });

  it('leaves other unknown when the server share is, and never below zero', () => {
    expect(cpuPerMessage({ ...totals, postgresTicks: undefined }, 10_000)).toEqual({
      nodeUs: 200,
      postgresUs: null,
      otherUs: null,
      otherCores: null,
    });
    // Tick rounding can put node + postgres above the machine's count.
    expect(cpuPerMessage({ ...totals, machineBusyTicks: 490 }, 10_000).otherUs).toBe(0);
  });
});

describe('noise', () => {
  const run = (otherCores: number | null, value = 1, seconds = 2) => ({
    value,
    details: { cost: { seconds, cpu: { otherCores } } },
  });

  it("reads a run's other-process share and calls it noisy past a quarter of a core", () => {
    expect(otherCoresOf(run(0.3).details)).toBe(0.3);
    expect(isNoisy(run(0.3).details)).toBe(true);
    expect(isNoisy(run(0.25).details)).toBe(false);
    expect(isNoisy(run(null).details)).toBe(false);
    expect(isNoisy({ messages: 3 })).toBe(false);
  });

  it('does not judge a window too short for 10 ms ticks', () => {
    expect(isNoisy(run(2.3, 1, 0.2).details)).toBe(false);
    expect(otherCoresOf(run(2.3, 1, 0.2).details)).toBe(2.3);
  });

  it('keeps the first quiet attempt, else the least noisy', () => {
    expect(quietest([run(0.9, 1), run(0.1, 2), run(0.05, 3)])?.value).toBe(2);
    expect(quietest([run(0.9, 1), run(0.4, 2), run(0.6, 3)])?.value).toBe(2);
    expect(quietest([])).toBeUndefined();
  });
});

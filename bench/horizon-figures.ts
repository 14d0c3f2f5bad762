/** The pinned-horizon bench's arithmetic: table figures per phase, recovery after the commit. */
import type { HorizonPhaseName } from './horizon-options.js';

/** One look at the queue table and the server's WAL (bench/horizon-table-stats.ts). */
export interface TableSample {
  /** Milliseconds since the run of this setting started. */
  readonly at: number;
  readonly phase: HorizonPhaseName;
  readonly heapBytes: number;
  readonly indexBytes: number;
  /** Heap, indexes, TOAST and the other forks. */
  readonly totalBytes: number;
  /** From pg_stat_user_tables, which lags the table by up to a stats flush. */
  readonly liveTuples: number;
  readonly deadTuples: number;
  /** autovacuum_count + vacuum_count of the table. */
  readonly vacuums: number;
  /** pg_stat_wal.wal_bytes: the whole server's WAL, including other databases' work. */
  readonly walBytes: number;
  /** pg_current_wal_lsn() as bytes, also server-wide, but not subject to stats flushes. */
  readonly walLsnBytes: number;
}

export interface PhaseTableFigures {
  readonly heapBytesAtEnd: number;
  readonly heapBytesPeak: number;
  readonly indexBytesAtEnd: number;
  readonly indexBytesPeak: number;
  /** Growth over the phase per message offered in it: done rows stay (done retention), so the
   * table grows even when clean; a pinned horizon shows as more bytes per message than clean. */
  readonly heapBytesPerMessage: number;
  readonly indexBytesPerMessage: number;
  readonly totalBytesAtEnd: number;
  readonly liveTuplesAtEnd: number;
  readonly deadTuplesAtEnd: number;
  readonly deadTuplesPeak: number;
  readonly vacuums: number;
  readonly walBytes: number;
  readonly walLsnBytes: number;
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!;
}

/**
 * `start` is the look taken as the phase began (the previous phase's last), `during` every look
 * taken in it, the last of which is its end; `messages` how many were offered in it.
 */
export function phaseTableFigures(
  start: TableSample,
  during: readonly TableSample[],
  messages: number,
): PhaseTableFigures {
  const end = during.at(-1) ?? start;
  const all = [start, ...during];
  const peak = (pick: (s: TableSample) => number) => Math.max(...all.map(pick));
  const perMessage = (grown: number) => (messages > 0 ? Math.round(grown / messages) : Number.NaN);
  return {
    heapBytesAtEnd: end.heapBytes,
    heapBytesPeak: peak((s) => s.heapBytes),
    indexBytesAtEnd: end.indexBytes,
    indexBytesPeak: peak((s) => s.indexBytes),
    heapBytesPerMessage: perMessage(end.heapBytes - start.heapBytes),
    indexBytesPerMessage: perMessage(end.indexBytes - start.indexBytes),
    totalBytesAtEnd: end.totalBytes,
    liveTuplesAtEnd: end.liveTuples,
    deadTuplesAtEnd: end.deadTuples,
    deadTuplesPeak: peak((s) => s.deadTuples),
    vacuums: end.vacuums - start.vacuums,
    walBytes: end.walBytes - start.walBytes,
    walLsnBytes: end.walLsnBytes - start.walLsnBytes,
  };
}

/** pinned completed/s over clean completed/s: the issue asks for at least 0.8. */
export function throughputRatio(cleanPerSecond: number, pinnedPerSecond: number): number {
  return cleanPerSecond > 0 ? pinnedPerSecond / cleanPerSecond : Number.NaN;
}

export interface RecoveryInput {
  /** Length of the after phase, from the commit, in ms. */
  readonly phaseMs: number;
  /** The backlog (enqueued − completed) as the offer loop saw it; `at` is ms since the commit. */
  readonly backlog: readonly { readonly at: number; readonly backlog: number }[];
  /** Each pickup of the after phase: when (ms since the commit) and its enqueue-to-start ms. */
  readonly pickupAt: readonly number[];
  readonly pickupMs: readonly number[];
  readonly cleanP99Ms: number;
  /** A backlog at or below this counts as drained. */
  readonly backlogLimit: number;
  readonly windowMs?: number;
  readonly stepMs?: number;
}

export interface RecoveryWindow {
  readonly fromSeconds: number;
  readonly pickups: number;
  readonly p99Ms: number;
  readonly peakBacklog: number;
}

export interface Recovery {
  /** Seconds from the commit after which every step was in bounds (drained backlog, next
   * window's p99 within 2× clean) to the phase's last full window; null when none was. */
  readonly seconds: number | null;
  /** Seconds from the commit to the first step in bounds, which may have slipped out again. */
  readonly firstSeconds: number | null;
  readonly backlogLimit: number;
  readonly p99LimitMs: number;
  /** Consecutive windows from the commit, for the record. */
  readonly windows: readonly RecoveryWindow[];
}

/**
 * A step t (every `stepMs` from the commit) is in bounds when the backlog at t is at most
 * `backlogLimit` and the pickups that started in [t, t + window) have a p99 within 2× the clean
 * phase's. Only windows that end inside the phase count, and an empty window is out of bounds
 * (nothing picked up is not a recovery). Recovered means in bounds from then on, since a queue
 * that drains once and falls behind again has not recovered.
 */
export function recoveryAfterCommit(input: RecoveryInput): Recovery {
  const windowMs = input.windowMs ?? 5_000;
  const stepMs = input.stepMs ?? 1_000;
  const p99LimitMs = 2 * input.cleanP99Ms;
  const backlogAt = (t: number): number => {
    let value = input.backlog[0]?.backlog ?? Number.POSITIVE_INFINITY;
    for (const sample of input.backlog) {
      if (sample.at > t) break;
      value = sample.backlog;
    }
    return value;
  };
  const windowP99 = (from: number, to: number): { pickups: number; p99Ms: number } => {
    const picked: number[] = [];
    input.pickupAt.forEach((at, index) => {
      if (at >= from && at < to) picked.push(input.pickupMs[index]!);
    });
    picked.sort((a, b) => a - b);
    return { pickups: picked.length, p99Ms: percentile(picked, 99) };
  };
  const inBounds: boolean[] = [];
  for (let t = 0; t + windowMs <= input.phaseMs; t += stepMs) {
    const { pickups, p99Ms } = windowP99(t, t + windowMs);
    inBounds.push(backlogAt(t) <= input.backlogLimit && pickups > 0 && p99Ms <= p99LimitMs);
  }
  const first = inBounds.indexOf(true);
  const lastOut = inBounds.lastIndexOf(false);
  const held = inBounds.length > 0 && lastOut < inBounds.length - 1 ? lastOut + 1 : -1;
  const toSeconds = (index: number) => (index < 0 ? null : (index * stepMs) / 1000);
  const windows: RecoveryWindow[] = [];
  for (let from = 0; from + windowMs <= input.phaseMs; from += windowMs) {
    const inWindow = input.backlog.filter((s) => s.at >= from && s.at < from + windowMs);
    windows.push({
      fromSeconds: from / 1000,
      ...windowP99(from, from + windowMs),
      peakBacklog: Math.max(0, ...inWindow.map((s) => s.backlog)),
    });
  }
  return {
    seconds: toSeconds(held),
    firstSeconds: toSeconds(first),
    backlogLimit: input.backlogLimit,
    p99LimitMs,
    windows,
  };
}

export interface SpaceAfterCommit {
  readonly heapBytesAtCommit: number;
  readonly heapBytesAtEnd: number;
  readonly indexBytesAtCommit: number;
  readonly indexBytesAtEnd: number;
  readonly deadTuplesAtCommit: number;
  readonly deadTuplesAtEnd: number;
  /** First look after the commit with at most half the dead tuples there were at it. */
  readonly deadTuplesHalvedAfterSeconds: number | null;
  /** First look after the commit at which the table's vacuum count had moved. */
  readonly firstVacuumAfterSeconds: number | null;
}

/** `atCommit` is the pinned phase's last look; `after` the after phase's looks. */
export function spaceAfterCommit(
  atCommit: TableSample,
  after: readonly TableSample[],
  commitAt: number,
): SpaceAfterCommit {
  const end = after.at(-1) ?? atCommit;
  const secondsOf = (s: TableSample | undefined) =>
    s === undefined ? null : Math.round((s.at - commitAt) / 100) / 10;
  return {
    heapBytesAtCommit: atCommit.heapBytes,
    heapBytesAtEnd: end.heapBytes,
    indexBytesAtCommit: atCommit.indexBytes,
    indexBytesAtEnd: end.indexBytes,
    deadTuplesAtCommit: atCommit.deadTuples,
    deadTuplesAtEnd: end.deadTuples,
    deadTuplesHalvedAfterSeconds: secondsOf(
      after.find((s) => s.deadTuples <= atCommit.deadTuples / 2),
    ),
    firstVacuumAfterSeconds: secondsOf(after.find((s) => s.vacuums > atCommit.vacuums)),
  };
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024 * 1024) return `${Math.round(bytes / 1024)} kB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}

/**
 * The arithmetic of bench/drain-cost.ts, apart from its reads of /proc and of the server, so it
 * can be tested on fixed inputs: parsing /proc lines, the CPU a process tree used between two
 * snapshots, and WAL record counts turned into per-message figures.
 */

/** The fields of one /proc/<pid>/stat line this bench uses; times in clock ticks. */
export interface ProcStat {
  readonly pid: number;
  readonly comm: string;
  readonly ppid: number;
  readonly utime: number;
  readonly stime: number;
  /** CPU of reaped children: where an exited backend's time ends up, in the postmaster's line. */
  readonly cutime: number;
  readonly cstime: number;
  /** Ticks after boot: with the pid, tells a process from a later one that reused its pid. */
  readonly starttime: number;
}

/** Parses a /proc/<pid>/stat line; undefined when it is not one. */
export function parseProcStat(line: string): ProcStat | undefined {
  // comm may hold spaces and parentheses: it runs from the first '(' to the last ')'.
  const open = line.indexOf('(');
  const close = line.lastIndexOf(')');
  if (open === -1 || close < open) return undefined;
  const rest = line
    .slice(close + 2)
    .trim()
    .split(/\s+/);
  // rest[0] is field 3 (state) of proc(5); field n is rest[n - 3].
  const field = (n: number) => Number(rest[n - 3]);
  const stat: ProcStat = {
    pid: Number(line.slice(0, open).trim()),
    comm: line.slice(open + 1, close),
    ppid: field(4),
    utime: field(14),
    stime: field(15),
    cutime: field(16),
    cstime: field(17),
    starttime: field(22),
  };
  return Object.values(stat).some((v) => typeof v === 'number' && !Number.isFinite(v))
    ? undefined
    : stat;
}

/** The whole machine's CPU ticks, from the `cpu ` line of /proc/stat. */
export interface MachineTicks {
  readonly busy: number;
  readonly idle: number;
}

export function parseMachineTicks(procStat: string): MachineTicks | undefined {
  const line = procStat.split('\n').find((l) => l.startsWith('cpu '));
  if (line === undefined) return undefined;
  const [user, nice, system, idle, iowait, irq, softirq, steal] = line
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  const parts = [user, nice, system, idle, iowait, irq, softirq, steal];
  if (parts.some((v) => v === undefined || !Number.isFinite(v))) return undefined;
  // guest and guest_nice are already inside user and nice.
  return {
    busy: user! + nice! + system! + irq! + softirq! + steal!,
    idle: idle! + iowait!,
  };
}

/** The server's processes at one moment: the postmaster and its children. */
export interface ServerSnapshot {
  readonly postmaster: ProcStat;
  readonly children: readonly ProcStat[];
}

/** The postmaster and the processes whose parent it is, out of every /proc/<pid>/stat. */
export function serverSnapshot(
  postmasterPid: number,
  stats: readonly ProcStat[],
): ServerSnapshot | undefined {
  const postmaster = stats.find((s) => s.pid === postmasterPid);
  if (postmaster === undefined) return undefined;
  return { postmaster, children: stats.filter((s) => s.ppid === postmasterPid) };
}

const key = (s: ProcStat) => `${s.pid}/${s.starttime}`;
const own = (s: ProcStat) => s.utime + s.stime;

/**
 * CPU ticks the server used between two snapshots. A child that exited in between was reaped
 * by the postmaster, so its whole life landed in the postmaster's cutime/cstime: what it had
 * used before the first snapshot is taken back out. A child born in between counts whole.
 */
export function serverTicksBetween(start: ServerSnapshot, end: ServerSnapshot): number {
  const before = new Map(start.children.map((c) => [key(c), own(c)]));
  const reaped = (s: ProcStat) => s.utime + s.stime + s.cutime + s.cstime;
  let ticks = reaped(end.postmaster) - reaped(start.postmaster);
  const alive = new Set<string>();
  for (const child of end.children) {
    alive.add(key(child));
    ticks += own(child) - (before.get(key(child)) ?? 0);
  }
  for (const child of start.children) if (!alive.has(key(child))) ticks -= own(child);
  return ticks;
}

/** WAL record counts by `rmgr/type`, as pg_walinspect names them (`Heap/INSERT+INIT`...). */
export type WalRecordCounts = Readonly<Record<string, number>>;

/** A row of the WAL read: a count by kind, and by relation too when `rel` is set. */
export interface RecordCountRow {
  readonly kind: string;
  readonly rel: string | null;
  readonly n: number;
}

/** The counts by kind, and by relation and kind. */
export function recordCounts(rows: readonly RecordCountRow[]): {
  records: Record<string, number>;
  byRelation: Record<string, Record<string, number>>;
} {
  const records: Record<string, number> = {};
  const byRelation: Record<string, Record<string, number>> = {};
  for (const { kind, rel, n } of rows) {
    if (rel === null) records[kind] = n;
    else (byRelation[rel] ??= {})[kind] = n;
  }
  return { records, byRelation };
}

/** Record counts per message, grouped the way a queue's cost reads. */
export interface WalPerMessage {
  readonly heap: {
    readonly insert: number;
    readonly update: number;
    readonly hotUpdate: number;
    readonly delete: number;
    readonly lock: number;
    /** Heap2/MULTI_INSERT records (COPY and multi-row inserts by some paths), not tuples. */
    readonly multiInsert: number;
    readonly lockUpdated: number;
  };
  /** Btree/INSERT_LEAF + INSERT_POST: one per index entry added. */
  readonly indexEntries: number;
  /** Btree/SPLIT_L + SPLIT_R. */
  readonly indexSplits: number;
  /** Btree/INSERT_UPPER + NEWROOT: the parent entries splits add. */
  readonly indexUpper: number;
}

/** `Heap/INSERT+INIT` is an INSERT that started a new page: the same write. */
const base = (kind: string) => kind.replace(/\+INIT$/, '');

export function walPerMessage(records: WalRecordCounts, messages: number): WalPerMessage {
  const sum = (...kinds: string[]) => {
    let total = 0;
    for (const [kind, count] of Object.entries(records))
      if (kinds.includes(base(kind))) total += count;
    return messages > 0 ? round(total / messages) : 0;
  };
  return {
    heap: {
      insert: sum('Heap/INSERT'),
      update: sum('Heap/UPDATE'),
      hotUpdate: sum('Heap/HOT_UPDATE'),
      delete: sum('Heap/DELETE'),
      lock: sum('Heap/LOCK'),
      multiInsert: sum('Heap2/MULTI_INSERT'),
      lockUpdated: sum('Heap2/LOCK_UPDATED'),
    },
    indexEntries: sum('Btree/INSERT_LEAF', 'Btree/INSERT_POST'),
    indexSplits: sum('Btree/SPLIT_L', 'Btree/SPLIT_R'),
    indexUpper: sum('Btree/INSERT_UPPER', 'Btree/NEWROOT'),
  };
}

/** Per-message figures are ratios of counts: three decimals say all they can. */
export function round(value: number, decimals = 3): number {
  const scale = 10 ** decimals;
  return Math.round(value * scale) / scale;
}

/** CPU per message, in microseconds; null where it could not be measured. */
export interface CpuPerMessage {
  readonly nodeUs: number;
  readonly postgresUs: number | null;
  /** The rest of the machine's busy CPU: other processes, this bench's noise. */
  readonly otherUs: number | null;
  /** Other processes' CPU as cores busy on average over the window (1 = one core). */
  readonly otherCores: number | null;
}

export interface CpuTotals {
  readonly nodeUs: number;
  readonly postgresTicks: number | undefined;
  readonly machineBusyTicks: number | undefined;
  readonly ticksPerSecond: number;
  readonly seconds: number;
}

export function cpuPerMessage(totals: CpuTotals, messages: number): CpuPerMessage {
  const toUs = (ticks: number) => (ticks * 1_000_000) / totals.ticksPerSecond;
  const per = (us: number) => (messages > 0 ? round(us / messages, 1) : 0);
  const postgresUs = totals.postgresTicks === undefined ? undefined : toUs(totals.postgresTicks);
  // Without the server's share, "other" would hold it: it is only told when both are known.
  const otherUs =
    totals.machineBusyTicks === undefined || postgresUs === undefined
      ? undefined
      : Math.max(0, toUs(totals.machineBusyTicks) - totals.nodeUs - postgresUs);
  return {
    nodeUs: per(totals.nodeUs),
    postgresUs: postgresUs === undefined ? null : per(postgresUs),
    otherUs: otherUs === undefined ? null : per(otherUs),
    otherCores:
      otherUs === undefined || totals.seconds <= 0
        ? null
        : round(otherUs / 1_000_000 / totals.seconds, 2),
  };
}

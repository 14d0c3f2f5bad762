/**
 * How the per-message cost of a drain (bench/drain-cost.ts), kept in a result's details, reads
 * in the console and in BENCHMARKS.md.
 */
import { type DrainCost } from './drain-cost.js';

/** The cost a result measured, if it did. */
export function costOf(details: Record<string, unknown> | undefined): DrainCost | undefined {
  const cost = details?.cost;
  if (typeof cost !== 'object' || cost === null) return undefined;
  return 'cpu' in cost && 'wal' in cost ? (cost as DrainCost) : undefined;
}

const figure = (value: number) =>
  value >= 100 ? Math.round(value).toLocaleString('en-US') : value.toFixed(2);

/** Heap writes by kind, the kinds that happened only: `1.00 ins, 2.00 upd, 1.00 del`. */
export function heapWrites(cost: DrainCost): string {
  if ('unavailable' in cost.wal) return 'unavailable';
  const h = cost.wal.heap;
  const kinds: [string, number][] = [
    ['ins', h.insert],
    ['multi-ins', h.multiInsert],
    ['upd', h.update],
    ['hot', h.hotUpdate],
    ['del', h.delete],
    ['lock', h.lock],
    ['lock-upd', h.lockUpdated],
  ];
  const seen = kinds.filter(([, value]) => value > 0);
  return seen.length === 0
    ? 'none'
    : seen.map(([kind, value]) => `${figure(value)} ${kind}`).join(', ');
}

export function indexEntries(cost: DrainCost): string {
  if ('unavailable' in cost.wal) return 'unavailable';
  const splits = cost.wal.indexSplits;
  return `${figure(cost.wal.indexEntries)}${splits > 0 ? ` (${figure(splits)} splits)` : ''}`;
}

export function cpuSplit(cost: DrainCost): string {
  const part = (value: number | null) => (value === null ? '?' : figure(value));
  return `${part(cost.cpu.nodeUs)} / ${part(cost.cpu.postgresUs)} / ${part(cost.cpu.otherUs)}`;
}

/** One line for the console. */
export function costLine(details: Record<string, unknown> | undefined): string | undefined {
  const cost = costOf(details);
  if (cost === undefined) return undefined;
  const scope = 'scope' in cost.wal && cost.wal.scope === 'server' ? ' (whole server)' : '';
  return [
    `heap ${heapWrites(cost)}${scope}`,
    `index entries ${indexEntries(cost)}`,
    `WAL ${figure(cost.walBytesPerMessage)} B`,
    `CPU µs node / postgres / other ${cpuSplit(cost)}`,
    `other processes ${cost.cpu.otherCores ?? '?'} core(s)`,
  ].join(' | ');
}

import { costOf, cpuSplit, heapWrites, indexEntries } from './cost-table.js';
import { VARIANTS } from './contenders/index.js';
import { MIN_JUDGED_SECONDS, NOISE_THRESHOLD_CORES } from './noise.js';
import { type BaselineResult } from './raw-baseline.js';

export interface Cell {
  readonly value: number;
  readonly unit: 'msg/s' | 'ms';
  readonly runs: readonly number[];
  readonly details?: Record<string, unknown>;
  /** Runs run again because other processes kept the CPU busy during them (bench/noise.ts). */
  readonly noiseRepeats?: number;
  /** Per run kept, other processes' CPU in cores over its window (bench/drain-cost.ts). */
  readonly otherCores?: readonly (number | null)[];
}

export interface ScenarioRow {
  readonly scenario: string;
  readonly description: string;
  readonly cells: Record<string, Cell>;
  /** Contenders skipped for this scenario (a flow-control feature they lack), with the reason. */
  skipped?: Record<string, string>;
}

export interface BenchReport {
  readonly date: string;
  readonly mode: 'quick' | 'full';
  readonly runs: number;
  readonly machine: { cores: number; memoryGiB: number; node: string; postgres: string };
  readonly versions: Record<string, { version: string; settings: string }>;
  readonly rows: readonly ScenarioRow[];
  readonly baseline: readonly BaselineResult[];
  readonly seconds: number;
  /** depth.1m's rate over depth.10k's, by contender, when both ran. */
  readonly depthRatios?: Record<string, number>;
}

const OURS = 'fetchcraft-processor';
const PEERS = ['pg-boss', 'graphile-worker', 'bullmq'];

/** The best peer's figure for a row: highest rate, or lowest latency. */
function bestPeer(row: ScenarioRow): { name: string; cell: Cell } | undefined {
  const peers = PEERS.flatMap((name) => (row.cells[name] ? [{ name, cell: row.cells[name] }] : []));
  if (peers.length === 0) return undefined;
  return peers.reduce((best, next) =>
    next.cell.unit === 'ms'
      ? next.cell.value < best.cell.value
        ? next
        : best
      : next.cell.value > best.cell.value
        ? next
        : best,
  );
}

function ratio(row: ScenarioRow): string {
  const ours = row.cells[OURS];
  const best = bestPeer(row);
  if (ours === undefined || best === undefined || best.cell.value === 0) return '';
  const factor = ours.unit === 'ms' ? best.cell.value / ours.value : ours.value / best.cell.value;
  return `${factor.toFixed(2)}x vs ${best.name}`;
}

function format(cell: Cell | undefined): string {
  if (cell === undefined) return '—';
  if (cell.unit === 'ms') {
    const d = cell.details as { p50?: number; p95?: number; p99?: number } | undefined;
    return d?.p99 !== undefined ? `${d.p50} / ${d.p95} / ${d.p99} ms` : `${cell.value} ms`;
  }
  return `${cell.value.toLocaleString('en-US')}/s${flowSuffix(cell.details)}`;
}

/** What the flow-control scenarios check besides the rate, when a cell has it. */
function flowSuffix(details: Record<string, unknown> | undefined): string {
  if (details === undefined) return '';
  const parts: string[] = [];
  if (typeof details.ratio === 'number') parts.push(`${details.ratio.toFixed(2)}× target`);
  if (typeof details.maxInSecond === 'number')
    parts.push(`max ${details.maxInSecond} started in any 1 s`);
  if (typeof details.maxLeasedInSecond === 'number')
    parts.push(`max ${details.maxLeasedInSecond} leased in any 1 s`);
  if (typeof details.inverted === 'number')
    parts.push(`${(details.inverted * 100).toFixed(1)}% inverted`);
  if (typeof details.overlaps === 'number')
    parts.push(`${details.overlaps} group overlap${details.overlaps === 1 ? '' : 's'}`);
  if (typeof details.maxRunning === 'number') parts.push(`max ${details.maxRunning} running`);
  if (details.capped === true) parts.push('capped');
  return parts.length === 0 ? '' : ` (${parts.join(', ')})`;
}

export function renderMarkdown(report: BenchReport): string {
  // This library's variants (its defaults, `removeOnComplete`) are shown beside it, never as peers.
  const names = [OURS, ...VARIANTS, 'fetchcraft-service', ...PEERS].filter((name) =>
    report.rows.some((row) => row.cells[name] !== undefined),
  );
  const lines: string[] = [];
  lines.push(`# Benchmarks`);
  lines.push('');
  lines.push(
    `${report.mode === 'full' ? 'Full' : 'Quick'} run of ${report.date.slice(0, 10)}: ${report.machine.cores} cores, ${report.machine.memoryGiB} GiB, Node ${report.machine.node}, PostgreSQL ${report.machine.postgres}, ${report.runs} run(s) per cell (median shown), ${Math.round(report.seconds / 60)} minutes in all. Every contender ran alone, in a process of its own, on a fresh database of the same server, with a no-op handler.`,
  );
  lines.push('');
  lines.push(
    'Reproduce: `npm run bench` (full) or `npm run bench -- --quick`; add `--write` to rewrite this file.',
  );
  lines.push('');
  lines.push('## Contenders');
  lines.push('');
  lines.push('| contender | version | settings |');
  lines.push('| --- | --- | --- |');
  for (const name of names) {
    const info = report.versions[name];
    lines.push(`| ${name} | ${info?.version ?? '?'} | ${info?.settings ?? ''} |`);
  }
  lines.push('');
  lines.push('## Results');
  lines.push('');
  lines.push(`| scenario | ${names.join(' | ')} | ours / best peer |`);
  lines.push(`| --- | ${names.map(() => '---').join(' | ')} | --- |`);
  for (const row of report.rows) {
    lines.push(
      `| ${row.scenario} | ${names.map((n) => format(row.cells[n])).join(' | ')} | ${ratio(row)} |`,
    );
  }
  lines.push('');
  lines.push('Scenarios:');
  lines.push('');
  for (const row of report.rows) lines.push(`- \`${row.scenario}\`: ${row.description}.`);
  const skipped = report.rows.flatMap((row) =>
    Object.entries(row.skipped ?? {}).map(
      ([name, reason]) => `- \`${row.scenario}\` / ${name}: ${reason}.`,
    ),
  );
  if (skipped.length > 0) {
    lines.push('');
    lines.push('Skipped ("—" above): the contender lacks the feature.');
    lines.push('');
    lines.push(...skipped);
  }
  lines.push(...perMessage(report, names));
  lines.push(...depthRatio(report, names));
  if (report.baseline.length > 0) {
    lines.push('');
    lines.push('## Raw-SQL baseline');
    lines.push('');
    lines.push(
      "This library's own lease and ack statements with no library around them: the worker's lease of 1,000 and ack batch from a minimal client, and pgbench scripts of one and of 50 per statement.",
    );
    lines.push('');
    lines.push('| run | messages/s |');
    lines.push('| --- | --- |');
    for (const b of report.baseline)
      lines.push(`| ${b.description} | ${b.value.toLocaleString('en-US')} |`);
  }
  const own = report.rows.flatMap((row) =>
    row.cells[OURS]?.details && ['rss.1m', 'soak'].includes(row.scenario)
      ? [`- \`${row.scenario}\`: ${JSON.stringify(row.cells[OURS].details)}`]
      : [],
  );
  if (own.length > 0) {
    lines.push('');
    lines.push('## Long runs (this library)');
    lines.push('');
    lines.push(...own);
  }
  lines.push('');
  return lines.join('\n');
}

/** What each drain cost per message: the why beside each rate of the Results table. */
function perMessage(report: BenchReport, names: readonly string[]): string[] {
  const rows = report.rows.flatMap((row) =>
    names.flatMap((name) => {
      const cell = row.cells[name];
      const cost = costOf(cell?.details);
      if (cell === undefined || cost === undefined) return [];
      const bytes = Math.round(cost.walBytesPerMessage).toLocaleString('en-US');
      return [
        `| ${row.scenario} | ${name} | ${format(cell)} | ${heapWrites(cost)} | ${indexEntries(cost)} | ${bytes} | ${cpuSplit(cost)} |`,
      ];
    }),
  );
  if (rows.length === 0) return [];
  const repeated = report.rows.reduce(
    (sum, row) => sum + Object.values(row.cells).reduce((n, c) => n + (c.noiseRepeats ?? 0), 0),
    0,
  );
  const scopes = new Set(
    report.rows.flatMap((row) =>
      Object.values(row.cells).flatMap((c) => {
        const wal = costOf(c.details)?.wal;
        return wal !== undefined && 'scope' in wal ? [wal.scope] : [];
      }),
    ),
  );
  return [
    '',
    '## Per message, drain',
    '',
    `Measured from the workers' start to the end of each drain's timed window: the rate's window starts at the first handler call, but a library that fetches in batches leases its first batch before that, and those leases are part of each message's cost. Heap writes and index entries are WAL records per message (pg_walinspect${scopes.has('server') ? '; on this server version for the whole server, every database' : ", this database's only"}): \`ins\` inserts, \`upd\` non-HOT updates (a new entry in every index), \`hot\` heap-only updates, \`del\` deletes, \`lock\` row locks (SELECT ... FOR UPDATE / SHARE); index entries are B-tree leaf inserts (the JSON results break every WAL record kind down by table and index: \`details.cost.wal.byRelation\`). WAL bytes: all the server wrote, commits and full-page images included. CPU in µs per message: the contender's Node process / the PostgreSQL server's processes / the rest of the machine (noise; a run of ${MIN_JUDGED_SECONDS} s or more where it passed ${NOISE_THRESHOLD_CORES} of a core was run again, ${repeated} run(s) in all). /proc counts CPU in 10 ms ticks: in windows under a second the split is coarse.`,
    '',
    '| scenario | contender | rate | heap writes | index entries | WAL bytes | CPU µs Node / Postgres / other |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
  ];
}

/** depth.1m's rate over depth.10k's, per contender that ran both: how much a deep backlog costs. */
export function depthRatios(rows: readonly ScenarioRow[]): Record<string, number> {
  const shallow = rows.find((row) => row.scenario === 'depth.10k');
  const deep = rows.find((row) => row.scenario === 'depth.1m');
  const ratios: Record<string, number> = {};
  for (const [name, cell] of Object.entries(deep?.cells ?? {})) {
    const base = shallow?.cells[name];
    if (base !== undefined && base.value > 0)
      ratios[name] = Number((cell.value / base.value).toFixed(3));
  }
  return ratios;
}

function depthRatio(report: BenchReport, names: readonly string[]): string[] {
  const shallow = report.rows.find((row) => row.scenario === 'depth.10k');
  const deep = report.rows.find((row) => row.scenario === 'depth.1m');
  if (shallow === undefined || deep === undefined) return [];
  const ratios = depthRatios(report.rows);
  const rows = names.flatMap((name) => {
    const a = shallow.cells[name];
    const b = deep.cells[name];
    if (a === undefined && b === undefined) return [];
    return [`| ${name} | ${format(a)} | ${format(b)} | ${ratios[name]?.toFixed(2) ?? ''} |`];
  });
  return [
    '',
    '## Depth',
    '',
    'depth.10k drains its whole backlog; depth.1m times the first fifth of a backlog a hundred times deeper. Both start timing once autovacuum has finished with the loaded backlog.',
    '',
    '| contender | depth.10k | depth.1m | depth.1m / depth.10k |',
    '| --- | --- | --- | --- |',
    ...rows,
  ];
}

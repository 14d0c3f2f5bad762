import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { type ProcessorOptions } from '../../src/index.js';
import { sleep, waitFor } from './boot.js';
import { type TestDatabase } from './test-database.js';
import { tsChildArgs } from './ts-child.js';

/** One line a flow worker printed (see test/support/flow-worker.ts). */
export interface FlowEvent {
  readonly kind: 'ready' | 'start' | 'end' | 'fail';
  readonly id: string;
  readonly group: string;
  readonly attempt: number;
  readonly at: number;
  readonly worker: number;
}

export interface FlowWorkers {
  readonly children: ChildProcess[];
  readonly events: FlowEvent[];
}

/** Ends a worker process: SIGTERM, then SIGKILL after 5 s. */
export async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await Promise.race([exited, sleep(5_000).then(() => child.kill('SIGKILL'))]);
}

/**
 * Starts `count` worker processes (test/support/flow-worker.ts) of one processor on `db` and
 * collects their events; each child is also pushed to `running`, for the caller to stop.
 */
export async function startFlowWorkers(
  db: TestDatabase,
  running: ChildProcess[],
  count: number,
  options: ProcessorOptions,
  queue: string,
): Promise<FlowWorkers> {
  const events: FlowEvent[] = [];
  const children = Array.from({ length: count }, (_, worker) => {
    const child = spawn('node', tsChildArgs('test/support/flow-worker.ts'), {
      env: {
        ...process.env,
        DATABASE_URL: db.url,
        FLOW_QUEUE: queue,
        FLOW_OPTIONS: JSON.stringify(options),
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    running.push(child);
    createInterface({ input: child.stdout }).on('line', (line) => {
      const [kind, id, group, third, fourth] = line.split(' ');
      if (kind === 'start') {
        events.push({
          kind,
          id: id!,
          group: group!,
          attempt: Number(third),
          at: Number(fourth),
          worker,
        });
      } else if (kind === 'end' || kind === 'fail') {
        events.push({ kind, id: id!, group: group!, attempt: 0, at: Number(third), worker });
      } else if (kind === 'ready') {
        events.push({ kind, id: '', group: '', attempt: 0, at: Date.now(), worker });
      }
    });
    return child;
  });
  await waitFor(
    () => events.filter((event) => event.kind === 'ready').length === count,
    60_000,
    'the worker processes',
  );
  return { children, events };
}

/**
 * Samples `sql` (one integer column `n`) every few milliseconds until `stop()` holds; resolves
 * with the largest value seen and the number of samples.
 */
export async function sampleMax(
  db: TestDatabase,
  sql: string,
  values: unknown[],
  stop: () => boolean,
): Promise<{ max: number; samples: number }> {
  let max = 0;
  let samples = 0;
  while (!stop()) {
    const { rows } = await db.query<{ n: number | null }>(sql, values);
    max = Math.max(max, rows[0]?.n ?? 0);
    samples += 1;
    await sleep(2);
  }
  return { max, samples };
}

/** The largest number of handlers running at once, from start and end events. */
export function maxOverlap(events: readonly FlowEvent[]): number {
  const edges = events
    .filter((event) => event.kind !== 'ready')
    .map((event) => ({ at: event.at, delta: event.kind === 'start' ? 1 : -1 }))
    // Ends first at the same millisecond: a slot freed and taken again is not an overlap.
    .sort((a, b) => a.at - b.at || a.delta - b.delta);
  let now = 0;
  let max = 0;
  for (const edge of edges) {
    now += edge.delta;
    max = Math.max(max, now);
  }
  return max;
}

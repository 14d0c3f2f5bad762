import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import pg from 'pg';
import { tsChildArgs } from '../../support/ts-child.js';

/** Every handler start and finish, as the workers record them. */
export const FAULT_EVENTS_SQL = `
CREATE TABLE fault_events (
  id bigserial PRIMARY KEY, message_id text NOT NULL, event text NOT NULL, pid int NOT NULL,
  attempt int NOT NULL, lease_token uuid NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp()
);
`;

/** Every ack as the PostgreSQL server that committed it saw it: on the queue's own server. */
export const FAULT_ACKS_SQL = `
CREATE TABLE fault_acks (
  message_id text NOT NULL, lease_token uuid, at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE FUNCTION fault_ack() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO fault_acks (message_id, lease_token) VALUES (OLD.id, OLD.lease_token);
  RETURN NEW;
END $$;
CREATE TRIGGER fault_ack AFTER UPDATE ON messages FOR EACH ROW
  WHEN (OLD.state = 'leased' AND NEW.state = 'done') EXECUTE FUNCTION fault_ack();
`;

/** The fault tables: every handler start and finish, and every ack as PostgreSQL saw it. */
export const FAULT_SCHEMA_SQL = FAULT_EVENTS_SQL + FAULT_ACKS_SQL;

export interface WorkerProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts a fault worker process and resolves once it consumes. */
export async function startWorker(
  url: string,
  env: Record<string, string> = {},
): Promise<WorkerProcess> {
  const child = spawn('node', tsChildArgs('test/faults/support/fault-worker.ts'), {
    env: { ...process.env, DATABASE_URL: url, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const ready = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(
      // Ten processes compiling TypeScript at once on two cores take a while (fault 8).
      () => reject(new Error('a fault worker did not start in 90 s')),
      90_000,
    );
    createInterface({ input: child.stdout }).on('line', (line) => {
      const match = /^ready (\d+)$/.exec(line);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    });
    child.once('exit', () => reject(new Error('a fault worker exited before it was ready')));
  });
  child.stderr?.resume();
  return { child, pid: ready, exited };
}

/** What the checker found after a fault run. */
export interface FaultReport {
  readonly accepted: number;
  readonly done: number;
  readonly deadLetters: number;
  readonly lost: number;
  readonly duplicates: number;
  readonly unexplainedDuplicates: number;
  readonly deliveredAfterAck: number;
  readonly acksPerMessageAboveOne: number;
}

/**
 * Checks the promises of the queue over `ids`: every accepted message done exactly once (or a
 * dead letter where `deadLetters` allows), none lost, every extra delivery explained (its worker
 * was killed, or its lease was never acked, so it expired), no delivery after an ack, and never
 * two acks of one message.
 */
export async function checkFaultRun(
  url: string,
  ids: readonly string[],
  killedPids: ReadonlySet<number>,
): Promise<FaultReport> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const states = await client.query<{ state: string; n: string }>(
      'SELECT state, count(*) AS n FROM messages WHERE id = ANY($1) GROUP BY state',
      [ids],
    );
    const count = (state: string) => Number(states.rows.find((r) => r.state === state)?.n ?? 0);
    const present = states.rows.reduce((sum, r) => sum + Number(r.n), 0);
    const starts = await client.query<{
      message_id: string;
      pid: number;
      lease_token: string;
      at: Date;
    }>(
      `SELECT message_id, pid, lease_token, at FROM fault_events
       WHERE event = 'start' AND message_id = ANY($1) ORDER BY message_id, at`,
      [ids],
    );
    const acks = await client.query<{ message_id: string; lease_token: string; at: Date }>(
      'SELECT message_id, lease_token, at FROM fault_acks WHERE message_id = ANY($1)',
      [ids],
    );
    const ackedTokens = new Set(acks.rows.map((a) => a.lease_token));
    const ackAt = new Map<string, Date>();
    let acksAboveOne = 0;
    for (const ack of acks.rows) {
      if (ackAt.has(ack.message_id)) acksAboveOne += 1;
      ackAt.set(ack.message_id, ack.at);
    }
    const byMessage = new Map<string, typeof starts.rows>();
    for (const start of starts.rows) {
      byMessage.set(start.message_id, [...(byMessage.get(start.message_id) ?? []), start]);
    }
    let duplicates = 0;
    let unexplained = 0;
    let afterAck = 0;
    for (const [id, deliveries] of byMessage) {
      duplicates += Math.max(0, deliveries.length - 1);
      for (const earlier of deliveries.slice(0, -1)) {
        if (!killedPids.has(earlier.pid) && ackedTokens.has(earlier.lease_token)) unexplained += 1;
      }
      const acked = ackAt.get(id);
      if (acked !== undefined) afterAck += deliveries.filter((d) => d.at > acked).length;
    }
    return {
      accepted: ids.length,
      done: count('done'),
      deadLetters: count('failed'),
      lost: ids.length - present,
      duplicates,
      unexplainedDuplicates: unexplained,
      deliveredAfterAck: afterAck,
      acksPerMessageAboveOne: acksAboveOne,
    };
  } finally {
    await client.end();
  }
}

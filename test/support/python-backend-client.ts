import { randomUUID } from 'node:crypto';
import pg from 'pg';

/**
 * The Fetchcraft Python backend (`AsyncPostgresQueue`, packages/fetchcraft-core/src/fetchcraft/
 * ingestion/postgres_backend.py) as its database sees it: every statement it sends, with the
 * values it binds, issued from TypeScript. The SQL texts are the backend's own; only the client
 * around them is ours. Like the backend, it computes times with the client's clock
 * (`int(time.time())`), ids with uuid4, and reaps expired leases before every `leaseNext` and
 * `hasPending`.
 */
export class PythonBackendClient {
  private readonly pool: pg.Pool;

  constructor(connectionString: string, poolMaxSize = 4) {
    this.pool = new pg.Pool({ connectionString, max: poolMaxSize });
    this.pool.on('error', () => {});
  }

  /** `_init_db`: its CREATE TABLE IF NOT EXISTS and CREATE INDEX IF NOT EXISTS, verbatim. */
  async initDb(): Promise<void> {
    await this.pool.query(`
                    CREATE TABLE IF NOT EXISTS messages
                    (
                        id           TEXT PRIMARY KEY,
                        queue        TEXT    NOT NULL,
                        body         JSONB   NOT NULL,
                        available_at BIGINT  NOT NULL,
                        lease_until  BIGINT,
                        attempts     INTEGER NOT NULL DEFAULT 0,
                        state        TEXT    NOT NULL DEFAULT 'ready',
                        created_at   BIGINT  NOT NULL DEFAULT EXTRACT(EPOCH FROM NOW())::BIGINT
                    )
                    `);
    await this.pool.query(
      "CREATE INDEX IF NOT EXISTS idx_messages_queue_avail ON messages(queue, available_at) WHERE state = 'ready'",
    );
    await this.pool.query('CREATE INDEX IF NOT EXISTS idx_messages_state ON messages(state)');
    await this.pool.query(
      "CREATE INDEX IF NOT EXISTS idx_messages_lease ON messages(lease_until) WHERE state = 'leased'",
    );
  }

  /** `enqueue(queue_name, body, delay_seconds)`: @returns its uuid4 id. */
  async enqueue(queue: string, body: unknown, delaySeconds = 0): Promise<string> {
    const now = nowSeconds();
    const id = randomUUID();
    await this.pool.query(
      `
                INSERT INTO messages (id, queue, body, available_at, attempts, state, created_at)
                VALUES ($1, $2, $3::jsonb, $4, 0, 'ready', $5)
                `,
      [id, queue, JSON.stringify(body), now + Math.max(0, Math.trunc(delaySeconds)), now],
    );
    return id;
  }

  /** `lease_next(queue_name, lease_seconds)`: reaps, then leases one message (no token). */
  async leaseNext(queue: string, leaseSeconds = 30): Promise<{ id: string; body: unknown } | null> {
    await this.reapExpired();
    const now = nowSeconds();
    const { rows } = await this.pool.query<{ id: string; body: unknown }>(
      `
                UPDATE messages
                SET state = 'leased',
                    lease_until = $1,
                    attempts = attempts + 1
                WHERE id = (
                    SELECT id
                    FROM messages
                    WHERE queue = $2
                      AND state = 'ready'
                      AND available_at <= $3
                    ORDER BY available_at ASC
                    LIMIT 1
                    FOR UPDATE SKIP LOCKED
                )
                RETURNING id, body
                `,
      [now + Math.max(1, Math.trunc(leaseSeconds)), queue, now],
    );
    return rows[0] ?? null;
  }

  /** `ack(queue_name, message_id)`: no state, no token checked. */
  async ack(queue: string, id: string): Promise<void> {
    await this.pool.query(
      `
                UPDATE messages
                SET state = 'done'
                WHERE id = $1 AND queue = $2
                `,
      [id, queue],
    );
  }

  /** `nack(queue_name, message_id, requeue_delay_seconds)`. */
  async nack(queue: string, id: string, requeueDelaySeconds = 0): Promise<void> {
    await this.pool.query(
      `
                UPDATE messages
                SET state = 'ready',
                    lease_until = NULL,
                    available_at = $1
                WHERE id = $2 AND queue = $3
                `,
      [nowSeconds() + Math.max(0, Math.trunc(requeueDelaySeconds)), id, queue],
    );
  }

  /** `has_pending(*queue_names)`: reaps, then counts ready and leased messages. */
  async hasPending(...queues: string[]): Promise<boolean> {
    await this.reapExpired();
    const { rows } = await this.pool.query<{ count: string }>(
      `
                SELECT COUNT(*)
                FROM messages
                WHERE queue = ANY($1::text[])
                  AND state IN ('ready', 'leased')
                `,
      [queues],
    );
    return Number(rows[0]!.count) > 0;
  }

  /** `_reap_expired()`: @returns how many leases it returned to ready. */
  async reapExpired(): Promise<number> {
    const result = await this.pool.query(
      `
                UPDATE messages
                SET state = 'ready',
                    lease_until = NULL
                WHERE state = 'leased'
                  AND lease_until <= $1
                `,
      [nowSeconds()],
    );
    return result.rowCount ?? 0;
  }

  /** `get_stats()`: its four statements and its keys. */
  async getStats(): Promise<{
    total_messages: number;
    by_state: Record<string, number>;
    by_queue: Record<string, number>;
    failed_messages: number;
  }> {
    const total = await this.pool.query<{ count: string }>('SELECT COUNT(*) FROM messages');
    const byState = await this.pool.query<{ state: string; count: string }>(
      'SELECT state, COUNT(*) as count FROM messages GROUP BY state',
    );
    const byQueue = await this.pool.query<{ queue: string; count: string }>(
      'SELECT queue, COUNT(*) as count FROM messages GROUP BY queue',
    );
    const failed = await this.pool.query<{ count: string }>(
      'SELECT COUNT(*) FROM messages WHERE attempts >= 3',
    );
    return {
      total_messages: Number(total.rows[0]!.count),
      by_state: Object.fromEntries(byState.rows.map((row) => [row.state, Number(row.count)])),
      by_queue: Object.fromEntries(byQueue.rows.map((row) => [row.queue, Number(row.count)])),
      failed_messages: Number(failed.rows[0]!.count),
    };
  }

  /** `clear_queue(queue_name, state=None)`: @returns how many it deleted. */
  async clearQueue(queue: string, state?: string): Promise<number> {
    const result = state
      ? await this.pool.query('DELETE FROM messages WHERE queue = $1 AND state = $2', [
          queue,
          state,
        ])
      : await this.pool.query('DELETE FROM messages WHERE queue = $1', [queue]);
    return result.rowCount ?? 0;
  }

  /** `delete_message(message_id)`: @returns whether it deleted one. */
  async deleteMessage(id: string): Promise<boolean> {
    const result = await this.pool.query('DELETE FROM messages WHERE id = $1', [id]);
    return (result.rowCount ?? 0) > 0;
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

/** The Python backend's clock: `int(time.time())` on the client. */
function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

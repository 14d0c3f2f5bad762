import { describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { queueTableNames } from '../../src/index.js';
import { queueMigrations } from '../../src/migrations/index.js';
import {
  NARROW_STATE_MIGRATION,
  NARROW_STATE_PREPARE_MIN_ROWS,
  type NarrowStatePreparationStep,
} from '../../src/migrations/prepare-narrow-state-index.js';
import { runMigrations, withDataSource } from '../support/migration-runs.js';
import { useQueueFixture } from '../support/queue-fixture.js';

const { db } = useQueueFixture('migrate_state_index');
const names = queueTableNames('public', 'messages');

/** The Python backend's `_init_db` statement for this index, verbatim. */
const PYTHON_CREATE_STATE_INDEX =
  'CREATE INDEX IF NOT EXISTS idx_messages_state ON messages(state)';

function migrate(
  stopBefore?: string,
  onStateIndexStep?: (step: NarrowStatePreparationStep) => void,
): Promise<string[]> {
  return runMigrations(db.url, {
    ...(stopBefore === undefined ? {} : { stopBefore }),
    ...(onStateIndexStep === undefined ? {} : { onStateIndexStep }),
  });
}

/** The definitions of the table's state indexes, by name. */
async function stateIndexes(): Promise<Record<string, string>> {
  const { rows } = await db.query<{ indexname: string; indexdef: string }>(
    `SELECT indexname, indexdef FROM pg_indexes
     WHERE tablename = 'messages' AND indexname LIKE 'idx_messages_state%' ORDER BY 1`,
  );
  return Object.fromEntries(rows.map((row) => [row.indexname, row.indexdef]));
}

const NARROW =
  "CREATE INDEX idx_messages_state ON public.messages USING btree (state) WHERE (state <> ALL (ARRAY['ready'::text, 'leased'::text, 'done'::text]))";

/** Rows in every state of the Python backend's four, `count` in all. */
async function fill(count: number): Promise<void> {
  await db.query(
    `INSERT INTO messages (queue, body, available_at, created_at, state, lease_until)
     SELECT 'q', jsonb_build_object('n', g), 0, 0, s.state, CASE WHEN s.state = 'leased' THEN 9999999999 END
     FROM generate_series(1, $1::integer) AS g
     CROSS JOIN LATERAL (SELECT (ARRAY['ready', 'leased', 'done', 'failed'])[1 + g % 4] AS state) AS s`,
    [count],
  );
}

describe('NarrowStateIndex1795592400000', () => {
  it('narrows a small table in its transaction, keeps the name the Python backend creates, and goes down again', async () => {
    await migrate(NARROW_STATE_MIGRATION);
    await fill(400);
    const steps: NarrowStatePreparationStep[] = [];
    expect(await migrate(undefined, (step) => steps.push(step))).toEqual([NARROW_STATE_MIGRATION]);
    expect(steps).toEqual([]);
    expect(await stateIndexes()).toEqual({ idx_messages_state: NARROW });

    // The Python backend's init finds the name and leaves the index as it is.
    await db.query(PYTHON_CREATE_STATE_INDEX);
    expect(await stateIndexes()).toEqual({ idx_messages_state: NARROW });

    // The rare states are still found through it.
    const plan = await db.query<{ 'QUERY PLAN': string }>(
      "EXPLAIN SELECT id FROM messages WHERE state = 'failed'",
    );
    expect(plan.rows.map((row) => row['QUERY PLAN']).join('\n')).toContain('idx_messages_state');

    await withDataSource(db.url, async (dataSource) => {
      const runner = dataSource.createQueryRunner();
      try {
        const Migration = queueMigrations(names).at(-1)!;
        await new Migration().down(runner);
      } finally {
        await runner.release();
      }
    });
    expect(await stateIndexes()).toEqual({
      idx_messages_state: 'CREATE INDEX idx_messages_state ON public.messages USING btree (state)',
    });
  });

  it('builds the narrow index concurrently on a big table while writers go on, and swaps it in', async () => {
    await migrate(NARROW_STATE_MIGRATION);
    await fill(NARROW_STATE_PREPARE_MIN_ROWS + 2_000);
    await db.query('ANALYZE messages');
    // What an interrupted concurrent build leaves behind: an invalid index of the preparation's name.
    await expect(
      db.query('CREATE UNIQUE INDEX CONCURRENTLY idx_messages_state_narrow ON messages (state)'),
    ).rejects.toThrow(/could not create unique index/);
    expect(Object.keys(await stateIndexes())).toEqual([
      'idx_messages_state',
      'idx_messages_state_narrow',
    ]);

    // A producer inserts throughout; none of its statements may fail.
    const writer = new pg.Client({ connectionString: db.url });
    await writer.connect();
    let writing = true;
    let inserted = 0;
    const writes = (async () => {
      while (writing) {
        await writer.query(
          `INSERT INTO messages (queue, body, available_at, created_at) VALUES ('q', '{}', 0, 0)`,
        );
        inserted += 1;
      }
    })();
    const steps: NarrowStatePreparationStep[] = [];
    try {
      expect(await migrate(undefined, (step) => steps.push(step))).toEqual([
        NARROW_STATE_MIGRATION,
      ]);
    } finally {
      writing = false;
      await writes;
      await writer.end();
    }
    expect(steps).toEqual(['index']);
    expect(inserted).toBeGreaterThan(0);
    expect(await stateIndexes()).toEqual({ idx_messages_state: NARROW });
    const { rows } = await db.query<{ failed: string }>(
      "SELECT count(*) AS failed FROM messages WHERE state = 'failed'",
    );
    expect(Number(rows[0]!.failed)).toBe(Math.floor((NARROW_STATE_PREPARE_MIN_ROWS + 2_000) / 4));
  });
});

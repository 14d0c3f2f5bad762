import { type QueryRunner } from 'typeorm';
import { type QueueTableNames } from '../sql/table-names.js';
import { upgradeSteps } from './migration-lock.js';

/**
 * The migration whose result an adopted table matches; adoption records it as applied, so the
 * numbered migrations after it run as on a table of our own.
 */
export const ADOPTED_MIGRATION = 'CreateQueueTable1795556400000';

/**
 * Rows written per statement of the `seq` backfill, each its own transaction: a Python statement
 * that meets one of its rows waits for it (measured at 1,000,000 rows under load: 10,000-row
 * batches made the Python side wait up to 0.39 s, 2,000-row ones at most ~0.1 s; the total time
 * hardly changes, the cost is per row).
 */
export const BACKFILL_BATCH = 2_000;

/** What adopting needs besides the table's names. */
export interface AdoptionContext {
  /** How long a statement that locks the whole table may wait for that lock. */
  readonly lockTimeoutMs: number;
  /** Told after each step, with its duration (the steps marked `locks` hold ACCESS EXCLUSIVE). */
  readonly onStep?: (step: AdoptionStep, durationMs: number) => void;
}

/** The steps of an adoption; those in a short transaction that locks the table say so. */
export type AdoptionStep =
  | 'prepare (locks)'
  | 'number'
  | 'backfill'
  | 'constrain (locks)'
  | 'validate'
  | 'index'
  | 'swap index (locks)'
  | 'finish (locks)';

/*
 * The index definitions of the table created by `CreateQueueTable1795556400000` (and the origin
 * index of `AddDeadLetters1795560000000`, see below), as pg_get_indexdef prints them after
 * `USING btree `. The Python backend's queue_avail index lacks `seq`; its other two are ours
 * already.
 */
const INDEX_SHAPES = [
  ['queueAvailable', 'queue_avail', `(queue, available_at, seq) WHERE (state = 'ready'::text)`],
  ['state', 'state', '(state)'],
  ['lease', 'lease', `(lease_until) WHERE (state = 'leased'::text)`],
  ['origin', 'origin', '(origin_queue) WHERE (origin_queue IS NOT NULL)'],
] as const;

/** The CHECK constraints of `CreateQueueTable1795556400000`, by name suffix. */
const CHECKS = [
  ['state_check', `state IN ('ready', 'leased', 'done', 'failed')`],
  ['lease_check', `state <> 'leased' OR lease_until IS NOT NULL`],
  ['attempts_check', 'attempts >= 0'],
] as const;

function quote(identifier: string): string {
  // Identifiers are validated as [a-z0-9_]: there is no quote character to double.
  return `"${identifier}"`;
}

/**
 * Upgrades the Python backend's table (already inspected by the migration runner, which owns the
 * decision to adopt) in place to what `CreateQueueTable1795556400000` creates, while the Python
 * backend's workers keep using it, then records that migration as applied. Every step can be run
 * again after a failure or a crash: the next boot resumes where this one stopped.
 *
 * The table is locked exclusively only for catalog changes of a few milliseconds (`… (locks)`
 * steps, each a transaction waiting at most `lockTimeoutMs` for its lock). What reads or writes
 * every row does so without blocking the Python backend's statements:
 *
 * 1. prepare: `seq`, `lease_token` (and see below) added without defaults (no rewrite); new
 *    rows get `seq` from a temporary sequence from here on; our defaults set; the CHECK
 *    constraints added `NOT VALID` (the runner checked the rows; new writes are checked).
 * 2. number + backfill: the rows that existed before are numbered in due order (`available_at`,
 *    then `created_at`, then `id`) as negative numbers (-N … -1), so they sort before every row
 *    inserted since, and written in batches of {@link BACKFILL_BATCH} rows (row locks only).
 * 3. constrain + validate: `seq IS NOT NULL` as a CHECK, then every CHECK validated (SHARE UPDATE
 *    EXCLUSIVE: reads and writes go on).
 * 4. index: `idx_<table>_queue_avail` rebuilt with `seq` (CREATE INDEX CONCURRENTLY under another
 *    name, then swapped), any missing index built the same way.
 * 5. finish: `seq` becomes NOT NULL (proved by the validated CHECK: no scan) and an identity
 *    column continuing the temporary sequence; the migration recorded, in the same transaction.
 *
 * It also adds, ahead of time, the columns and the index of `AddDeadLetters1795560000000`
 * (`last_error`, `origin_queue`, `idx_<table>_origin`), which that migration then finds in place:
 * run by the migration, the index would be built while its ALTER TABLE holds the table
 * exclusively (measured: 0.5 s of every Python statement waiting, on 1,000,000 rows).
 *
 * Runs on one connection, outside any transaction of the caller (CREATE INDEX CONCURRENTLY
 * cannot run in one).
 */
export async function adoptPythonTable(
  queryRunner: QueryRunner,
  t: QueueTableNames,
  context: AdoptionContext,
): Promise<void> {
  const sequence = `${t.quotedSchema}.${quote(`${t.table}_seq_adopt`)}`;
  // Not `<table>_seq_not_null`: PostgreSQL 18 names the NOT NULL constraint of `seq` so.
  const seqCheck = quote(`${t.table}_seq_adopt_check`);
  const { step, locked } = upgradeSteps<AdoptionStep>(queryRunner, t, context);

  const existingChecks = new Set(
    (
      (await queryRunner.query(
        `SELECT conname FROM pg_constraint WHERE conrelid = $1::regclass AND contype = 'c'`,
        [t.qualified],
      )) as Array<{ conname: string }>
    ).map((row) => row.conname),
  );

  await locked('prepare (locks)', async () => {
    await queryRunner.query(
      `ALTER TABLE ${t.qualified} ADD COLUMN IF NOT EXISTS seq BIGINT, ADD COLUMN IF NOT EXISTS lease_token UUID,
  ADD COLUMN IF NOT EXISTS last_error JSONB, ADD COLUMN IF NOT EXISTS origin_queue TEXT,
  ALTER COLUMN id SET DEFAULT gen_random_uuid()::text,
  ALTER COLUMN attempts SET DEFAULT 0,
  ALTER COLUMN state SET DEFAULT 'ready'`,
    );
    await queryRunner.query(`CREATE SEQUENCE IF NOT EXISTS ${sequence} AS bigint`);
    await queryRunner.query(
      `ALTER TABLE ${t.qualified} ALTER COLUMN seq SET DEFAULT nextval('${sequence}'::regclass)`,
    );
    const missing = CHECKS.filter(([suffix]) => !existingChecks.has(`${t.table}_${suffix}`));
    if (missing.length > 0) {
      await queryRunner.query(
        `ALTER TABLE ${t.qualified} ${missing
          .map(
            ([suffix, check]) =>
              `ADD CONSTRAINT ${quote(`${t.table}_${suffix}`)} CHECK (${check}) NOT VALID`,
          )
          .join(', ')}`,
      );
    }
  });

  // Every row without a sequence number existed before `prepare` committed (rows since get one
  // from the default); so do the rows a failed earlier try numbered already (negative). Both are
  // numbered again together, so a resumed backfill cannot give two rows one number.
  let total = 0;
  await step('number', async () => {
    await queryRunner.query('DROP TABLE IF EXISTS pg_temp.queue_adopt_order');
    await queryRunner.query(
      `CREATE TEMP TABLE queue_adopt_order AS
SELECT row_number() OVER (ORDER BY available_at, created_at, id) AS n, id
FROM ${t.qualified} WHERE seq IS NULL OR seq < 0`,
    );
    // Left unanalysed on purpose (autovacuum never analyses a temporary table): the planner then
    // expects a few hundred rows per range and finds each by the primary key; analysed, it
    // hash-joined every batch against a scan of the whole queue table.
    await queryRunner.query('CREATE INDEX ON pg_temp.queue_adopt_order (n)');
    const [row] = (await queryRunner.query(
      'SELECT count(*)::bigint AS total FROM pg_temp.queue_adopt_order',
    )) as Array<{ total: string }>;
    total = Number(row!.total);
  });

  await step('backfill', async () => {
    for (let from = 0; from < total; from += BACKFILL_BATCH) {
      await queryRunner.query(
        `UPDATE ${t.qualified} AS m SET seq = o.n - $3::bigint - 1
FROM pg_temp.queue_adopt_order AS o
WHERE o.n > $1::bigint AND o.n <= $2::bigint AND m.id = o.id
  AND (m.seq IS NULL OR m.seq < 0) AND m.seq IS DISTINCT FROM o.n - $3::bigint - 1`,
        [from, from + BACKFILL_BATCH, total],
      );
    }
    await queryRunner.query('DROP TABLE pg_temp.queue_adopt_order');
  });

  if (!existingChecks.has(`${t.table}_seq_adopt_check`)) {
    await locked('constrain (locks)', async () => {
      await queryRunner.query(
        `ALTER TABLE ${t.qualified} ADD CONSTRAINT ${seqCheck} CHECK (seq IS NOT NULL) NOT VALID`,
      );
    });
  }
  await step('validate', async () => {
    await queryRunner.query(
      `ALTER TABLE ${t.qualified} ${[
        ...CHECKS.map(([suffix]) => `${t.table}_${suffix}`),
        `${t.table}_seq_adopt_check`,
      ]
        .map((name) => `VALIDATE CONSTRAINT ${quote(name)}`)
        .join(', ')}`,
    );
  });

  for (const [key, suffix, shape] of INDEX_SHAPES) {
    const [current] = (await queryRunner.query(
      `SELECT substring(pg_get_indexdef(i.indexrelid) from 'USING btree (.*)$') AS shape, i.indisvalid AS valid
FROM pg_index AS i JOIN pg_class AS c ON c.oid = i.indexrelid
WHERE c.relname = $1::text AND c.relnamespace = $2::regnamespace`,
      [`idx_${t.table}_${suffix}`, t.quotedSchema],
    )) as Array<{ shape: string; valid: boolean }>;
    if (current?.shape === shape && current.valid) continue;
    const building = `${t.quotedSchema}.${quote(`idx_${t.table}_${suffix}_adopt`)}`;
    await step('index', async () => {
      // A build that a crash interrupted leaves an invalid index behind: dropped and built again.
      await queryRunner.query(`DROP INDEX CONCURRENTLY IF EXISTS ${building}`);
      await queryRunner.query(
        `CREATE INDEX CONCURRENTLY ${quote(`idx_${t.table}_${suffix}_adopt`)} ON ${t.qualified} ${shape.replace(/::text/g, '')}`,
      );
    });
    await locked('swap index (locks)', async () => {
      await queryRunner.query(`DROP INDEX IF EXISTS ${t.quotedSchema}.${t.indexes[key]}`);
      await queryRunner.query(`ALTER INDEX ${building} RENAME TO ${t.indexes[key]}`);
    });
  }

  await locked('finish (locks)', async () => {
    // The default goes first: from then on, under this lock, nothing draws from the sequence.
    await queryRunner.query(`ALTER TABLE ${t.qualified} ALTER COLUMN seq DROP DEFAULT`);
    const [next] = (await queryRunner.query(
      `SELECT nextval('${sequence}'::regclass) AS next`,
    )) as Array<{
      next: string;
    }>;
    await queryRunner.query(`DROP SEQUENCE ${sequence}`);
    await queryRunner.query(`ALTER TABLE ${t.qualified} ALTER COLUMN seq SET NOT NULL`);
    await queryRunner.query(
      `ALTER TABLE ${t.qualified} ALTER COLUMN seq ADD GENERATED ALWAYS AS IDENTITY (START WITH ${BigInt(next!.next)})`,
    );
    await queryRunner.query(`ALTER TABLE ${t.qualified} DROP CONSTRAINT ${seqCheck}`);
    await queryRunner.query(`CREATE TABLE IF NOT EXISTS ${t.qualifiedMigrations} (
  "id" SERIAL NOT NULL PRIMARY KEY,
  "timestamp" bigint NOT NULL,
  "name" character varying NOT NULL
)`);
    await queryRunner.query(
      `INSERT INTO ${t.qualifiedMigrations} ("timestamp", "name") VALUES ($1, $2)`,
      [Number(ADOPTED_MIGRATION.slice(-13)), ADOPTED_MIGRATION],
    );
  });
}

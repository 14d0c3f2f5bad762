import { type MigrationInterface, type QueryRunner } from 'typeorm';
import { type QueueTableNames } from '../sql/table-names.js';
import { takeMigrationLocks } from './migration-lock.js';
import { type QueueMigrationClass } from './queue-migration-class.js';

/**
 * The states the state index keeps: the rare ones an operator or the cleanup looks for (dead
 * letters, cancelled messages, parents waiting for their children). Not `ready`, `leased` or
 * `done`, which every message passes through.
 */
export const NARROW_STATE_PREDICATE = `state NOT IN ('ready', 'leased', 'done')`;

/**
 * The state index narrowed to the rare states. The full `(state)` index, the Python backend's
 * `idx_<table>_state`, took an entry for every version of every message: one at enqueue, one at
 * lease, one at ack (two of the five index entries a drained message wrote, one of the three an
 * enqueued message writes; the pinned-horizon benchmark also showed the planner misusing it).
 * No statement of ours reads it for those three states: ready messages are found through the
 * queue's ready index, leased ones through the lease index, done ones by the cleanup's scan.
 *
 * The index keeps its name, so the Python backend's `CREATE INDEX IF NOT EXISTS
 * idx_<table>_state ON <table>(state)` finds it and does nothing; its statements give the same
 * answers (its `GROUP BY state` counts read the table either way).
 *
 * On a big table the narrow index is built concurrently ahead of the migration
 * (`prepare-narrow-state-index.ts`, as `idx_<table>_state_narrow`); the migration then swaps it in
 * with catalog changes only. On a small one it is built here, holding the table for milliseconds.
 */
export function narrowStateIndex(t: QueueTableNames): QueueMigrationClass {
  return class NarrowStateIndex1795592400000 implements MigrationInterface {
    readonly name = 'NarrowStateIndex1795592400000';

    async up(queryRunner: QueryRunner): Promise<void> {
      await takeMigrationLocks(queryRunner, t);
      const found = await readStateIndexes(queryRunner, t);
      if (found.state === 'narrow') return;
      if (found.prepared === 'valid') {
        await queryRunner.query(`DROP INDEX IF EXISTS ${t.quotedSchema}.${t.indexes.state}`);
        await queryRunner.query(
          `ALTER INDEX ${t.quotedSchema}.${t.indexes.stateNarrow} RENAME TO ${t.indexes.state}`,
        );
        return;
      }
      if (found.prepared === 'invalid') {
        // What an interrupted concurrent build left behind.
        await queryRunner.query(`DROP INDEX ${t.quotedSchema}.${t.indexes.stateNarrow}`);
      }
      await queryRunner.query(`DROP INDEX IF EXISTS ${t.quotedSchema}.${t.indexes.state}`);
      await queryRunner.query(
        `CREATE INDEX ${t.indexes.state} ON ${t.qualified} (state) WHERE ${NARROW_STATE_PREDICATE}`,
      );
    }

    async down(queryRunner: QueryRunner): Promise<void> {
      await queryRunner.query(`DROP INDEX ${t.quotedSchema}.${t.indexes.state}`);
      await queryRunner.query(`CREATE INDEX ${t.indexes.state} ON ${t.qualified} (state)`);
    }
  };
}

/** The state index as it stands, and the narrow one a preparation built (or left half built). */
export interface StateIndexes {
  readonly state: 'full' | 'narrow' | 'missing';
  readonly prepared: 'valid' | 'invalid' | 'missing';
}

/** Reads which state indexes the queue table has. */
export async function readStateIndexes(
  queryRunner: QueryRunner,
  t: QueueTableNames,
): Promise<StateIndexes> {
  const rows = (await queryRunner.query(
    // Names are compared quoted, as `deriveTableNames` quotes them (validated: nothing to double).
    `SELECT '"' || c.relname || '"' AS name, i.indisvalid AS valid, i.indpred IS NOT NULL AS partial
FROM pg_index AS i JOIN pg_class AS c ON c.oid = i.indexrelid
WHERE i.indrelid = to_regclass($1::text) AND '"' || c.relname || '"' = ANY ($2::text[])`,
    [t.qualified, [t.indexes.state, t.indexes.stateNarrow]],
  )) as Array<{ name: string; valid: boolean; partial: boolean }>;
  const state = rows.find((row) => row.name === t.indexes.state);
  const prepared = rows.find((row) => row.name === t.indexes.stateNarrow);
  return {
    state: state === undefined ? 'missing' : state.partial ? 'narrow' : 'full',
    prepared: prepared === undefined ? 'missing' : prepared.valid ? 'valid' : 'invalid',
  };
}

/** The narrow index built concurrently under its preparation name. */
export function createNarrowStateIndexConcurrentlySql(t: QueueTableNames): string {
  return `CREATE INDEX CONCURRENTLY IF NOT EXISTS ${t.indexes.stateNarrow} ON ${t.qualified} (state) WHERE ${NARROW_STATE_PREDICATE}`;
}

import { type MigrationInterface, type QueryRunner } from 'typeorm';
import { type QueueTableNames } from '../sql/table-names.js';
import {
  ARCHIVE_PARTITIONS_AHEAD,
  ARCHIVE_SPAN_ORIGIN_SECONDS,
  ARCHIVE_SPAN_SECONDS,
  legacyUpperBound,
} from '../config/archive-span.js';
import { takeMigrationLocks } from './migration-lock.js';
import { type QueueMigrationClass } from './queue-migration-class.js';

/**
 * The archive becomes a table partitioned by range of `archived_at` (epoch seconds), one
 * partition a week (see `archive-span.ts`), so that retention drops whole partitions instead of
 * deleting rows one by one (measured in BENCHMARKS.md).
 *
 * - The parent copies the archive's columns as they are at this moment (`LIKE`), so a column an
 *   earlier migration added to the archive comes along, in the same order: the Python backend's
 *   `INSERT INTO messages_archive SELECT * FROM messages` still lines up.
 * - The old table is attached as one partition from the lowest value up to a bound past its
 *   rows, its rows untouched. A CHECK constraint of that bound, validated before the attach (by
 *   the runner's preparation on a big archive, under a lock that lets writes go on), spares the
 *   attach its scan: the archive is held for catalog changes only.
 * - `<table>_archive_default` catches a row no partition covers, so an insert never fails; the
 *   keeper below moves such rows into their partition when it creates it.
 * - No primary key: a partitioned table's unique keys must include `archived_at`. Lookups by id
 *   use a plain index on `id` (one probe per partition); the cleanup replaces an id already
 *   archived by deleting it in the statement that inserts the newer row.
 * - `<table>_archive_partitions(ahead, keep_seconds)`: the keeper, SECURITY DEFINER, so that an
 *   application role that does not own the archive may run the maintenance. EXECUTE is revoked
 *   from PUBLIC: dropping partitions deletes archived rows, so the owner grants it (README).
 *
 * A later migration adding a column to the queue table cannot move `archived_at` behind it
 * (`moveArchivedAtLast`): a partition key column cannot be dropped. It rebuilds the parent
 * instead (a new one with the column in place, each partition detached from the old and
 * attached to the new, with its bound as a validated CHECK so no attach scans).
 */
export function partitionArchive(t: QueueTableNames): QueueMigrationClass {
  return class PartitionArchive1795585200000 implements MigrationInterface {
    readonly name = 'PartitionArchive1795585200000';

    async up(queryRunner: QueryRunner): Promise<void> {
      await takeMigrationLocks(queryRunner, t);
      const legacy = archiveLegacyNames(t);
      // Held to the commit by the DDL below anyway; taken first so that "empty" stays true.
      await queryRunner.query(`LOCK TABLE ${t.qualifiedArchive} IN ACCESS EXCLUSIVE MODE`);
      const [{ empty } = { empty: true }] = (await queryRunner.query(
        `SELECT NOT EXISTS (SELECT 1 FROM ${t.qualifiedArchive}) AS empty`,
      )) as Array<{ empty: boolean }>;
      // An empty archive (a new install) is replaced outright: weekly partitions from the start.
      const upper = empty ? null : await ensureLegacyRange(queryRunner, t, 'validate');
      if (!empty) await ensureLegacyIdIndex(queryRunner, t, false);
      // The old table's primary key would keep one partition unique on id and no other.
      const [primary] = (await queryRunner.query(
        `SELECT conname FROM pg_constraint WHERE conrelid = $1::regclass AND contype = 'p'`,
        [t.qualifiedArchive],
      )) as Array<{ conname: string }>;
      if (primary !== undefined) {
        await queryRunner.query(
          `ALTER TABLE ${t.qualifiedArchive} DROP CONSTRAINT ${quoteIdentifier(primary.conname)}`,
        );
      }
      await queryRunner.query(`ALTER TABLE ${t.qualifiedArchive} RENAME TO ${legacy.table}`);
      await queryRunner.query(
        `ALTER INDEX IF EXISTS ${t.quotedSchema}.${t.indexes.archivedAt} RENAME TO ${legacy.archivedAtIndex}`,
      );
      await queryRunner.query(
        `CREATE TABLE ${t.qualifiedArchive} (LIKE ${legacy.qualified} INCLUDING DEFAULTS) PARTITION BY RANGE (archived_at)`,
      );
      // Built on the parent before any partition: instant. The attach below adopts the old
      // table's matching indexes instead of building new ones.
      await queryRunner.query(`CREATE INDEX ${archiveIdIndex(t)} ON ${t.qualifiedArchive} (id)`);
      await queryRunner.query(
        `CREATE INDEX ${t.indexes.archivedAt} ON ${t.qualifiedArchive} (archived_at)`,
      );
      if (upper === null) {
        await queryRunner.query(`DROP TABLE ${legacy.qualified}`);
      } else {
        await queryRunner.query(
          `ALTER TABLE ${t.qualifiedArchive} ATTACH PARTITION ${legacy.qualified} FOR VALUES FROM (MINVALUE) TO (${upper})`,
        );
        await queryRunner.query(
          `ALTER TABLE ${legacy.qualified} DROP CONSTRAINT ${legacy.rangeCheck}`,
        );
      }
      await queryRunner.query(
        `CREATE TABLE ${t.quotedSchema}.${quoteIdentifier(`${t.table}_archive_default`)} PARTITION OF ${t.qualifiedArchive} DEFAULT`,
      );
      await queryRunner.query(partitionKeeperSql(t));
      await queryRunner.query(
        `REVOKE ALL ON FUNCTION ${t.functions.archivePartitions}(integer, bigint) FROM PUBLIC`,
      );
      await queryRunner.query(
        `SELECT created FROM ${t.functions.archivePartitions}(${ARCHIVE_PARTITIONS_AHEAD}, NULL)`,
      );
    }

    async down(queryRunner: QueryRunner): Promise<void> {
      await takeMigrationLocks(queryRunner, t);
      const plain = `${t.quotedSchema}.${quoteIdentifier(`${t.table}_archive_plain`)}`;
      await queryRunner.query(
        `CREATE TABLE ${plain} (LIKE ${t.qualifiedArchive} INCLUDING DEFAULTS)`,
      );
      // An id archived twice (possible without the primary key) keeps its latest row.
      await queryRunner.query(
        `INSERT INTO ${plain} SELECT DISTINCT ON (id) * FROM ${t.qualifiedArchive} ORDER BY id, archived_at DESC, seq DESC`,
      );
      await queryRunner.query(`DROP TABLE ${t.qualifiedArchive}`);
      await queryRunner.query(`DROP FUNCTION ${t.functions.archivePartitions}(integer, bigint)`);
      await queryRunner.query(
        `ALTER TABLE ${plain} RENAME TO ${quoteIdentifier(`${t.table}_archive`)}`,
      );
      await queryRunner.query(`ALTER TABLE ${t.qualifiedArchive} ADD PRIMARY KEY (id)`);
      await queryRunner.query(
        `CREATE INDEX ${t.indexes.archivedAt} ON ${t.qualifiedArchive} (archived_at)`,
      );
    }
  };
}

function quoteIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** The quoted name of the archive's index on `id`. */
export function archiveIdIndex(t: QueueTableNames): string {
  return quoteIdentifier(`idx_${t.table}_archive_id`);
}

/** What the old archive is called once it is the parent's first partition. */
export function archiveLegacyNames(t: QueueTableNames): {
  readonly table: string;
  readonly qualified: string;
  readonly rangeCheck: string;
  readonly rangeCheckName: string;
  readonly idIndex: string;
  readonly idIndexName: string;
  readonly archivedAtIndex: string;
} {
  const table = `${t.table}_archive_legacy`;
  return {
    table: quoteIdentifier(table),
    qualified: `${t.quotedSchema}.${quoteIdentifier(table)}`,
    rangeCheck: quoteIdentifier(`${table}_range`),
    rangeCheckName: `${table}_range`,
    idIndex: quoteIdentifier(`idx_${table}_id`),
    idIndexName: `idx_${table}_id`,
    archivedAtIndex: quoteIdentifier(`idx_${table}_at`),
  };
}

/**
 * The old archive's upper bound as a CHECK constraint (`archived_at < bound`), added NOT VALID
 * when missing (catalog only). `validate` validates it here (reading every row under the
 * migration's lock: the small-archive path); `leave` leaves that to the caller, who validates it
 * outside any transaction. @returns the bound.
 */
export async function ensureLegacyRange(
  queryRunner: QueryRunner,
  t: QueueTableNames,
  validation: 'validate' | 'leave',
): Promise<number> {
  const legacy = archiveLegacyNames(t);
  const [found] = (await queryRunner.query(
    `SELECT convalidated AS validated, pg_get_constraintdef(oid) AS definition FROM pg_constraint
WHERE conrelid = $1::regclass AND conname = $2::text`,
    [t.qualifiedArchive, legacy.rangeCheckName],
  )) as Array<{ validated: boolean; definition: string }>;
  let upper: number;
  if (found === undefined) {
    const [row] = (await queryRunner.query(
      `SELECT floor(extract(epoch FROM now()))::bigint AS now, max(archived_at) AS max FROM ${t.qualifiedArchive}`,
    )) as Array<{ now: string; max: string | null }>;
    upper = legacyUpperBound(Number(row!.now), row!.max === null ? null : Number(row!.max));
    await queryRunner.query(
      `ALTER TABLE ${t.qualifiedArchive} ADD CONSTRAINT ${legacy.rangeCheck} CHECK (archived_at < ${upper}) NOT VALID`,
    );
  } else {
    const bound = /(-?\d+)/.exec(found.definition);
    if (bound === null) throw new Error(`unexpected ${legacy.rangeCheckName}: ${found.definition}`);
    upper = Number(bound[1]);
  }
  if (validation === 'validate' && found?.validated !== true) {
    await queryRunner.query(
      `ALTER TABLE ${t.qualifiedArchive} VALIDATE CONSTRAINT ${legacy.rangeCheck}`,
    );
  }
  return upper;
}

/**
 * A plain index on the old archive's `id`, for the parent's index on `id` to adopt at the attach
 * (its primary key index is unique, so it does not match). `concurrently`: outside any
 * transaction, after dropping an invalid one an interrupted build left behind.
 */
export async function ensureLegacyIdIndex(
  queryRunner: QueryRunner,
  t: QueueTableNames,
  concurrently: boolean,
): Promise<void> {
  const legacy = archiveLegacyNames(t);
  const [found] = (await queryRunner.query(
    `SELECT i.indisvalid AS valid FROM pg_class AS c JOIN pg_index AS i ON i.indexrelid = c.oid
WHERE c.relnamespace = $1::regnamespace AND c.relname = $2::text`,
    [t.quotedSchema, legacy.idIndexName],
  )) as Array<{ valid: boolean }>;
  if (found?.valid === true) return;
  const how = concurrently ? 'CONCURRENTLY ' : '';
  if (found !== undefined) {
    await queryRunner.query(`DROP INDEX ${how}${t.quotedSchema}.${legacy.idIndex}`);
  }
  await queryRunner.query(`CREATE INDEX ${how}${legacy.idIndex} ON ${t.qualifiedArchive} (id)`);
}

/**
 * The keeper: `<table>_archive_partitions(ahead, keep_seconds)`, run by the maintenance.
 *
 * 1. Creates the partition of the current week and of the `ahead` weeks after it, and of every
 *    week a row of the default partition falls in, skipping a week an existing partition
 *    overlaps (the old archive's). A week with rows in the default partition is created apart,
 *    filled with them (deleted from the default) and attached: attaching a partition checks that
 *    the default holds no row of its range.
 * 2. With `keep_seconds`, drops the oldest range partition whose upper bound is at least that
 *    old (its every row was archived before the retention), one a call: a drop holds the parent
 *    exclusively until the commit, so a backlog of weeks goes one short transaction at a time
 *    (the caller calls again while one was dropped). The default partition is never dropped.
 *
 * One caller at a time per table (a transaction advisory lock), so replicas running it together
 * do not create the same partition twice. It runs as its owner (SECURITY DEFINER) with a fixed
 * search_path; identifiers are formatted with %I, values are bound.
 *
 * @returns the partitions created and dropped, and the rows moved out of the default partition.
 */
export function partitionKeeperSql(t: QueueTableNames): string {
  // Schema and table are validated [a-z0-9_] identifiers: no quote to double in a literal.
  return `CREATE OR REPLACE FUNCTION ${t.functions.archivePartitions}(ahead integer, keep_seconds bigint)
RETURNS TABLE (created text[], dropped text[], moved bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $keeper$
DECLARE
  span constant bigint := ${ARCHIVE_SPAN_SECONDS};
  origin constant bigint := ${ARCHIVE_SPAN_ORIGIN_SECONDS};
  parent_schema constant text := '${t.schema}';
  parent_name constant text := '${t.table}_archive';
  default_name constant text := '${t.table}_archive_default';
  parent oid;
  now_s bigint := floor(extract(epoch FROM now()))::bigint;
  this_week bigint;
  lo bigint;
  part_name text;
  n bigint;
  expired record;
BEGIN
  IF ahead IS NULL OR ahead < 0 OR ahead > 520 THEN
    RAISE EXCEPTION 'ahead must be a whole number from 0 to 520, got %', ahead USING ERRCODE = '22023';
  END IF;
  IF keep_seconds < 0 THEN
    RAISE EXCEPTION 'keep_seconds must be 0 or more, got %', keep_seconds USING ERRCODE = '22023';
  END IF;
  parent := to_regclass(format('%I.%I', parent_schema, parent_name));
  PERFORM pg_advisory_xact_lock(1634886504, hashtext(format('%I.%I', parent_schema, parent_name)));
  created := '{}';
  dropped := '{}';
  moved := 0;
  this_week := now_s - (((now_s - origin) % span) + span) % span;
  FOR lo IN
    SELECT DISTINCT w FROM (
      SELECT this_week + k * span AS w FROM generate_series(0, ahead) AS k
      UNION
      SELECT DISTINCT d.archived_at - (((d.archived_at - origin) % span) + span) % span
      FROM (SELECT archived_at FROM ONLY ${t.quotedSchema}."${t.table}_archive_default") AS d
    ) AS weeks ORDER BY w
  LOOP
    CONTINUE WHEN EXISTS (
      SELECT 1 FROM (
        SELECT CASE WHEN b[1] = 'MINVALUE' THEN NULL ELSE btrim(b[1], '''')::bigint END AS f,
               CASE WHEN b[2] = 'MAXVALUE' THEN NULL ELSE btrim(b[2], '''')::bigint END AS u
        FROM pg_inherits AS i
        CROSS JOIN LATERAL regexp_match(pg_get_expr(
          (SELECT c.relpartbound FROM pg_class AS c WHERE c.oid = i.inhrelid), i.inhrelid),
          '^FOR VALUES FROM \\((.+)\\) TO \\((.+)\\)$') AS b
        WHERE i.inhparent = parent AND b IS NOT NULL
      ) AS bounds
      WHERE (bounds.f IS NULL OR bounds.f < lo + span) AND (bounds.u IS NULL OR bounds.u > lo)
    );
    part_name := parent_name || '_p' || to_char(to_timestamp(lo) AT TIME ZONE 'UTC', 'YYYYMMDD');
    EXECUTE format('SELECT count(*) FROM ONLY %I.%I WHERE archived_at >= $1 AND archived_at < $2',
      parent_schema, default_name) INTO n USING lo, lo + span;
    IF n = 0 THEN
      EXECUTE format('CREATE TABLE %I.%I PARTITION OF %I.%I FOR VALUES FROM (%s) TO (%s)',
        parent_schema, part_name, parent_schema, parent_name, lo, lo + span);
    ELSE
      EXECUTE format('CREATE TABLE %I.%I (LIKE %I.%I INCLUDING DEFAULTS)',
        parent_schema, part_name, parent_schema, parent_name);
      EXECUTE format('WITH leaving AS (DELETE FROM ONLY %I.%I WHERE archived_at >= $1 AND archived_at < $2 RETURNING *) INSERT INTO %I.%I SELECT * FROM leaving',
        parent_schema, default_name, parent_schema, part_name) USING lo, lo + span;
      GET DIAGNOSTICS n = ROW_COUNT;
      moved := moved + n;
      EXECUTE format('ALTER TABLE %I.%I ATTACH PARTITION %I.%I FOR VALUES FROM (%s) TO (%s)',
        parent_schema, parent_name, parent_schema, part_name, lo, lo + span);
    END IF;
    created := created || part_name;
  END LOOP;
  IF keep_seconds IS NOT NULL THEN
    FOR expired IN
      SELECT c.relname, c.relnamespace::regnamespace::text AS nsp, btrim(b[1], '''')::bigint AS u
      FROM pg_inherits AS i JOIN pg_class AS c ON c.oid = i.inhrelid
      CROSS JOIN LATERAL regexp_match(pg_get_expr(c.relpartbound, c.oid), '^FOR VALUES FROM \\(.+\\) TO \\((.+)\\)$') AS b
      WHERE i.inhparent = parent AND b[1] <> 'MAXVALUE'
      ORDER BY 3
    LOOP
      CONTINUE WHEN expired.u > now_s - keep_seconds;
      EXECUTE format('DROP TABLE %s.%I', expired.nsp, expired.relname);
      dropped := dropped || expired.relname::text;
      -- One a call: the parent is held exclusively from a drop to the commit (files unlinked).
      EXIT;
    END LOOP;
  END IF;
  RETURN NEXT;
END
$keeper$`;
}

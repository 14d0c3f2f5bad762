import { randomBytes } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import { MaintenanceScheduler } from '../../src/maintenance/maintenance.scheduler.js';
import {
  ARCHIVE_PARTITIONS_AHEAD,
  ARCHIVE_SPAN_SECONDS,
  archiveSpanStart,
} from '../../src/config/archive-span.js';
import {
  ARCHIVE_PREPARE_MIN_ROWS,
  PARTITION_ARCHIVE_MIGRATION,
  type ArchivePreparationStep,
} from '../../src/migrations/prepare-partition-archive.js';
import { RecordingLogger } from '../support/boot.js';
import { runMigrations } from '../support/migration-runs.js';
import { useQueueFixture } from '../support/queue-fixture.js';
import { MIGRATION_NAMES } from '../support/queue-migrations.js';

const { db, boot } = useQueueFixture('archive_partitions');
const DAY = 86_400;
/** The partitioning migration and those after it: what a table stopped before it applies. */
const FROM_PARTITION_ARCHIVE = MIGRATION_NAMES.slice(
  MIGRATION_NAMES.indexOf(PARTITION_ARCHIVE_MIGRATION),
);

/** The Python backend's archive statement, as its guide gives it (see seed-sql.spec.ts). */
const PYTHON_ARCHIVE = `
INSERT INTO messages_archive 
SELECT * FROM messages 
WHERE queue = 'ingest.error' 
  AND created_at < EXTRACT(EPOCH FROM NOW() - INTERVAL '30 days')::BIGINT;`;

async function rows<T>(sql: string, values: unknown[] = []): Promise<T[]> {
  return (await db.query(sql, values)).rows as T[];
}

function migrate(
  stopBefore?: string,
  onArchiveStep?: (step: ArchivePreparationStep) => void,
): Promise<string[]> {
  return runMigrations(db.url, {
    ...(stopBefore === undefined ? {} : { stopBefore }),
    ...(onArchiveStep === undefined ? {} : { onArchiveStep }),
  });
}

async function nowSeconds(): Promise<number> {
  const [row] = await rows<{ now: string }>(
    'SELECT floor(extract(epoch FROM now()))::bigint AS now',
  );
  return Number(row!.now);
}

/** The archive's partitions with their bounds, lowest first; the default one last. */
async function partitions(): Promise<Array<{ name: string; bound: string }>> {
  return rows(
    `SELECT c.relname AS name, pg_get_expr(c.relpartbound, c.oid) AS bound
     FROM pg_inherits AS i JOIN pg_class AS c ON c.oid = i.inhrelid
     WHERE i.inhparent = 'messages_archive'::regclass
     ORDER BY c.relname = 'messages_archive_default', c.relname = 'messages_archive_legacy' DESC, c.relname`,
  );
}

function weekName(start: number): string {
  return `messages_archive_p${new Date(start * 1000).toISOString().slice(0, 10).replace(/-/g, '')}`;
}

/** Archive rows inserted as an operator (or an import) would, at the given archived_at. */
async function archiveAt(id: string, archivedAt: number): Promise<void> {
  await db.query(
    `INSERT INTO messages_archive (id, queue, body, available_at, created_at, state, seq, archived_at)
     VALUES ($1, 'arch', '{}', 0, 0, 'failed', 0, $2)`,
    [id, archivedAt],
  );
}

async function partitionOf(id: string): Promise<string[]> {
  const found = await rows<{ part: string }>(
    'SELECT tableoid::regclass::text AS part FROM messages_archive WHERE id = $1',
    [id],
  );
  return found.map((row) => row.part);
}

describe('PartitionArchive1795585200000', () => {
  it('converts an archive with rows: kept in place as one partition, found by id, the Python insert still works', async () => {
    await migrate(PARTITION_ARCHIVE_MIGRATION);
    const app = await boot({ connectionString: db.url, migrationsRun: false });
    const ids = await app.queue.enqueueMany('ingest.error', [{ n: 1 }, { n: 2 }, { n: 3 }]);
    await db.query("UPDATE messages SET state = 'failed', created_at = created_at - 40 * 86400");
    expect((await app.queue.cleanup({ failedRetentionDays: 30 })).archived).toBe(3);
    await db.query(
      "UPDATE messages_archive SET archived_at = archived_at - 200 * 86400 WHERE body->>'n' = '1'",
    );
    const before = await rows('SELECT * FROM messages_archive ORDER BY id');

    expect(await migrate()).toEqual(FROM_PARTITION_ARCHIVE);
    const [kind] = await rows<{ relkind: string }>(
      "SELECT relkind FROM pg_class WHERE oid = 'messages_archive'::regclass",
    );
    expect(kind!.relkind).toBe('p');
    // Every row kept, column for column, in the old table now attached as a partition.
    expect(await rows('SELECT * FROM messages_archive ORDER BY id')).toEqual(before);
    for (const id of ids) expect(await partitionOf(id)).toEqual(['messages_archive_legacy']);

    // Legacy from the lowest value to four weeks past this one, then the weeks ahead, contiguous.
    const upper =
      archiveSpanStart(await nowSeconds()) + ARCHIVE_PARTITIONS_AHEAD * ARCHIVE_SPAN_SECONDS;
    expect(await partitions()).toEqual([
      { name: 'messages_archive_legacy', bound: `FOR VALUES FROM (MINVALUE) TO ('${upper}')` },
      {
        name: weekName(upper),
        bound: `FOR VALUES FROM ('${upper}') TO ('${upper + ARCHIVE_SPAN_SECONDS}')`,
      },
      { name: 'messages_archive_default', bound: 'DEFAULT' },
    ]);
    // The parent's index on id is valid: every partition has one attached (the old table's
    // adopted), so a lookup by id probes an index per partition.
    const indexes = await rows<{ name: string; valid: boolean }>(
      `SELECT c.relname AS name, i.indisvalid AS valid FROM pg_index AS i JOIN pg_class AS c ON c.oid = i.indexrelid
       WHERE i.indrelid = 'messages_archive'::regclass ORDER BY 1`,
    );
    expect(indexes).toEqual([
      { name: 'idx_messages_archive_at', valid: true },
      { name: 'idx_messages_archive_id', valid: true },
    ]);
    await db.query('SET enable_seqscan = off');
    const [plan] = await rows<{ 'QUERY PLAN': string }>(
      'EXPLAIN (FORMAT TEXT) SELECT * FROM messages_archive WHERE id = $1',
      [ids[0]],
    );
    await db.query('RESET enable_seqscan');
    expect(plan!['QUERY PLAN']).not.toMatch(/Seq Scan/);

    // The Python backend's archive statement, unchanged: its row lands by archived_at (now).
    await app.queue.enqueue('ingest.error', { n: 4 });
    await db.query(
      "UPDATE messages SET created_at = created_at - 31 * 86400 WHERE body->>'n' = '4'",
    );
    expect((await db.query(PYTHON_ARCHIVE)).rowCount).toBe(1);
    const [python] = await rows<{ id: string }>(
      "SELECT id FROM messages_archive WHERE body->>'n' = '4'",
    );
    expect(await partitionOf(python!.id)).toEqual(['messages_archive_legacy']);
  });

  it('prepares a big archive first: the bound validated and the id index built outside the migration, adopted as they are', async () => {
    await migrate(PARTITION_ARCHIVE_MIGRATION);
    await db.query(
      `INSERT INTO messages_archive (id, queue, body, available_at, created_at, state, seq)
       SELECT 'big-' || g, 'arch', '{}', 0, 0, 'failed', g FROM generate_series(1, $1::integer) AS g`,
      [ARCHIVE_PREPARE_MIN_ROWS],
    );
    const steps: ArchivePreparationStep[] = [];
    expect(await migrate(undefined, (step) => steps.push(step))).toEqual(FROM_PARTITION_ARCHIVE);
    expect(steps).toEqual(['range (locks the archive)', 'validate', 'index']);
    const [counted] = await rows<{ n: number }>(
      'SELECT count(*)::integer AS n FROM messages_archive',
    );
    expect(counted!.n).toBe(ARCHIVE_PREPARE_MIN_ROWS);
    // The concurrently built index is the one the parent's index adopted: no build at the attach.
    const adopted = await rows<{ name: string }>(
      `SELECT c.relname AS name FROM pg_inherits AS i JOIN pg_class AS c ON c.oid = i.inhrelid
       WHERE i.inhparent = 'idx_messages_archive_id'::regclass ORDER BY 1`,
    );
    expect(adopted.map((row) => row.name)).toContain('idx_messages_archive_legacy_id');
    // The bound's CHECK served the attach and is gone; the partition bound holds it now.
    expect(
      await rows(
        "SELECT conname FROM pg_constraint WHERE conname = 'messages_archive_legacy_range'",
      ),
    ).toEqual([]);
  });
});

describe('the partition keeper', () => {
  it('creates the coming weeks, files archived rows by week, moves rows out of the default partition, drops by retention only what is past it', async () => {
    const app = await boot({ connectionString: db.url });
    const now = await nowSeconds();
    const thisWeek = archiveSpanStart(now);
    // A new install: no legacy partition, this week and the four after it, and the default.
    expect((await partitions()).map((p) => p.name)).toEqual([
      ...Array.from({ length: ARCHIVE_PARTITIONS_AHEAD + 1 }, (_, k) =>
        weekName(thisWeek + k * ARCHIVE_SPAN_SECONDS),
      ),
      'messages_archive_default',
    ]);

    // The cleanup archives into this week's partition.
    const [failed] = await app.queue.enqueueMany('arch', [{ k: 'failed' }]);
    await db.query("UPDATE messages SET state = 'failed', created_at = created_at - 40 * 86400");
    expect(await app.queue.cleanup({ failedRetentionDays: 30 })).toEqual({
      deleted: 0,
      archived: 1,
    });
    expect(await partitionOf(failed!)).toEqual([weekName(thisWeek)]);

    // Rows no partition covers land in the default partition: an insert never fails.
    const far = thisWeek + 10 * ARCHIVE_SPAN_SECONDS + DAY;
    const old = now - 100 * DAY;
    const recent = now - 50 * DAY;
    await archiveAt('far', far);
    await archiveAt('old', old);
    await archiveAt('recent', recent);
    for (const id of ['far', 'old', 'recent']) {
      expect(await partitionOf(id)).toEqual(['messages_archive_default']);
    }

    // Kept forever: the weeks of those rows are created and the rows moved in; nothing dropped.
    const kept = await app.queue.cleanup({ archiveRetentionDays: false });
    expect(kept.archivePartitions).toEqual({
      created: [
        weekName(archiveSpanStart(old)),
        weekName(archiveSpanStart(recent)),
        weekName(archiveSpanStart(far)),
      ],
      dropped: [],
      moved: 3,
    });
    expect(await partitionOf('far')).toEqual([weekName(archiveSpanStart(far))]);
    expect(await rows('SELECT id FROM ONLY messages_archive_default')).toEqual([]);

    // Sixty days: only the week wholly older than that goes, with its row; nothing else.
    const before = (await partitions()).map((p) => p.name);
    const retention = await app.queue.cleanup({ archiveRetentionDays: 60 });
    expect(retention.archivePartitions).toEqual({
      created: [],
      dropped: [weekName(archiveSpanStart(old))],
      moved: 0,
    });
    expect((await partitions()).map((p) => p.name)).toEqual(
      before.filter((name) => name !== weekName(archiveSpanStart(old))),
    );
    expect(
      (await rows<{ id: string }>('SELECT id FROM messages_archive')).map((r) => r.id).sort(),
    ).toEqual([failed!, 'far', 'recent'].sort());

    // An id archived again replaces the archived row, whichever partition held it.
    await db.query(
      `INSERT INTO messages (id, queue, body, available_at, created_at, state)
       VALUES ('recent', 'arch', '{"again": true}', 0, floor(extract(epoch from now()))::bigint - 40 * 86400, 'failed')`,
    );
    expect((await app.queue.cleanup({ failedRetentionDays: 30 })).archived).toBe(1);
    expect(await rows("SELECT body FROM messages_archive WHERE id = 'recent'")).toEqual([
      { body: { again: true } },
    ]);
    expect(await partitionOf('recent')).toEqual([weekName(thisWeek)]);

    // The keeper refuses nonsense, whoever calls it.
    await expect(
      db.query('SELECT * FROM messages_archive_partitions(-1, NULL)'),
    ).rejects.toMatchObject({ code: '22023' });
    await expect(app.queue.cleanup({ archiveRetentionDays: -1 })).rejects.toMatchObject({
      name: 'QueueValidationError',
    });
  });

  it('runs for an application role that owns nothing: with EXECUTE granted; without it the cleanup still archives and says what to grant', async () => {
    await boot({ connectionString: db.url });
    const role = `archive_app_${randomBytes(4).toString('hex')}`;
    const password = randomBytes(12).toString('hex');
    await db.query(`CREATE ROLE ${role} LOGIN PASSWORD '${password}'`);
    try {
      await db.query(`GRANT CONNECT ON DATABASE "${db.name}" TO ${role}`);
      await db.query(`GRANT USAGE ON SCHEMA public TO ${role}`);
      await db.query(
        `GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ${role}`,
      );
      await db.query(`GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO ${role}`);
      const url = new URL(db.url);
      url.username = role;
      url.password = password;
      const logger = new RecordingLogger();
      const app = await boot(
        {
          connectionString: url.toString(),
          migrationsRun: false,
          cleanup: { cron: '0 0 1 1 *', archiveRetentionDays: 60 },
        },
        [],
        { logger },
      );
      const [first, second] = await app.queue.enqueueMany('arch', [{ n: 1 }, { n: 2 }]);
      await db.query("UPDATE messages SET state = 'failed', created_at = created_at - 40 * 86400");
      const now = await nowSeconds();
      await archiveAt('old', now - 100 * DAY);

      // Without EXECUTE (revoked from PUBLIC by the migration): the scheduled cleanup tells and
      // archives all the same.
      await app.get(MaintenanceScheduler).cleanup();
      expect(
        logger.lines.some((line) =>
          /^warn Archive partitions not kept: .*permission denied.*GRANT EXECUTE ON FUNCTION "public"\."messages_archive_partitions"\(integer, bigint\) TO <role>/.test(
            line,
          ),
        ),
      ).toBe(true);
      expect(
        (await rows<{ id: string }>('SELECT id FROM messages_archive ORDER BY id'))
          .map((r) => r.id)
          .sort(),
      ).toEqual([first!, second!, 'old'].sort());

      await db.query(
        `GRANT EXECUTE ON FUNCTION messages_archive_partitions(integer, bigint) TO ${role}`,
      );
      await app.get(MaintenanceScheduler).cleanup();
      const oldWeek = weekName(archiveSpanStart(now - 100 * DAY));
      expect(logger.lines).toContainEqual(
        `log Archive partitions: created ${oldWeek}; moved 1 row(s) out of the default partition; dropped ${oldWeek} (archive retention)`,
      );
      expect(await partitionOf('old')).toEqual([]);
      // What the keeper creates belongs to the archive's owner, not to the application role.
      const owners = await rows<{ owner: string }>(
        `SELECT DISTINCT pg_get_userbyid(c.relowner) AS owner FROM pg_inherits AS i
         JOIN pg_class AS c ON c.oid = i.inhrelid WHERE i.inhparent = 'messages_archive'::regclass`,
      );
      expect(owners.map((o) => o.owner)).not.toContain(role);
    } finally {
      await db.query(`DROP OWNED BY ${role}`);
      await db.query(`DROP ROLE ${role}`);
    }
  });
});

import { createHash } from 'node:crypto';

/**
 * Every identifier a statement needs, validated and double-quoted once when the module boots.
 * SQL builders interpolate these strings and nothing else; every value is a bound parameter.
 */
export interface QueueTableNames {
  /** Unquoted schema name, e.g. `public`. */
  readonly schema: string;
  /** Unquoted table name, e.g. `messages`. */
  readonly table: string;
  /** `"schema"` */
  readonly quotedSchema: string;
  /** `"schema"."table"` */
  readonly qualified: string;
  /** Unquoted name of the TypeORM migrations table kept beside the queue table. */
  readonly migrationsTable: string;
  /** `"schema"."<table>_migrations"` */
  readonly qualifiedMigrations: string;
  /** `"schema"."<table>_archive"`: old dead letters, moved by the cleanup. */
  readonly qualifiedArchive: string;
  /** `"schema"."<table>_queues"`: one row per queue with state shared by every replica (pause). */
  readonly qualifiedQueues: string;
  /** `"schema"."<table>_schedules"`: recurring messages, one row per schedule. */
  readonly qualifiedSchedules: string;
  /** `"schema"."<table>_samples"`: per-minute counts of each queue, for the dashboard's charts. */
  readonly qualifiedSamples: string;
  /** `"schema"."<table>_sample_minutes"`: one row per sampled minute, claimed by one replica. */
  readonly qualifiedSampleMinutes: string;
  /** `"schema"."<table>_replicas"`: one row per running process, its heartbeat and processors. */
  readonly qualifiedReplicas: string;
  /** Quoted index names; for the default table they are the Python backend's own. */
  readonly indexes: {
    readonly queueAvailable: string;
    readonly state: string;
    /** The narrow state index while a preparation builds it (`NarrowStateIndex1795592400000`). */
    readonly stateNarrow: string;
    readonly lease: string;
    readonly origin: string;
    readonly archivedAt: string;
    readonly priority: string;
    readonly unique: string;
    readonly uniqueWindow: string;
    readonly group: string;
    readonly rate: string;
    readonly groupRate: string;
    readonly parent: string;
    readonly schedulesNext: string;
  };
  /**
   * Quoted, schema-qualified name of the trigger function that moves a flow on and tells
   * `waitFor` when a message ends (see `1795574400000-add-workflows.ts`).
   */
  readonly functions: {
    readonly messageEnded: string;
    /**
     * The archive's partition keeper (see `1795585200000-partition-archive.ts`): creates the
     * partitions ahead and drops those past retention, as the migrating role.
     */
    readonly archivePartitions: string;
  };
  /** Text hashed into the advisory lock key that serialises migrations of this table. */
  readonly lockKey: string;
  /**
   * The NOTIFY channel of this table: `<schema>.<table>`, or a hash of it when that would pass
   * Postgres' 63-byte limit. Passed as a parameter to pg_notify; quoted for LISTEN.
   */
  readonly channel: string;
  readonly quotedChannel: string;
  /**
   * The channel of control notifications (pause, resume, cancel), apart from the wake-ups so
   * that a payload is never mistaken for a queue name: `queue_ctl_` and a hash of the table's
   * qualified name, which always fits 63 bytes.
   */
  readonly controlChannel: string;
  readonly quotedControlChannel: string;
  /**
   * The channel on which an awaited message's end is told (payload: its id), for `waitFor`:
   * `queue_fin_` and the same hash, apart from wake-ups and control.
   */
  readonly finishedChannel: string;
  readonly quotedFinishedChannel: string;
}

function quote(identifier: string): string {
  // Identifiers are restricted to [a-z0-9_], so there is no quote character to double.
  return `"${identifier}"`;
}

/**
 * Every quoted name the statements use, derived from a schema and table name that were already
 * validated as lower-case identifiers (see `queueTableNames`).
 */
export function deriveTableNames(schema: string, table: string): QueueTableNames {
  const migrationsTable = `${table}_migrations`;
  const qualifiedName = `${schema}.${table}`;
  const channel =
    qualifiedName.length <= 63
      ? qualifiedName
      : `queue_${createHash('sha256').update(qualifiedName).digest('hex').slice(0, 32)}`;
  const tableHash = createHash('sha256').update(qualifiedName).digest('hex').slice(0, 32);
  const controlChannel = `queue_ctl_${tableHash}`;
  const finishedChannel = `queue_fin_${tableHash}`;
  return Object.freeze({
    schema,
    table,
    quotedSchema: quote(schema),
    qualified: `${quote(schema)}.${quote(table)}`,
    migrationsTable,
    qualifiedMigrations: `${quote(schema)}.${quote(migrationsTable)}`,
    qualifiedArchive: `${quote(schema)}.${quote(`${table}_archive`)}`,
    qualifiedQueues: `${quote(schema)}.${quote(`${table}_queues`)}`,
    qualifiedSchedules: `${quote(schema)}.${quote(`${table}_schedules`)}`,
    qualifiedSamples: `${quote(schema)}.${quote(`${table}_samples`)}`,
    qualifiedSampleMinutes: `${quote(schema)}.${quote(`${table}_sample_minutes`)}`,
    qualifiedReplicas: `${quote(schema)}.${quote(`${table}_replicas`)}`,
    indexes: Object.freeze({
      queueAvailable: quote(`idx_${table}_queue_avail`),
      state: quote(`idx_${table}_state`),
      stateNarrow: quote(`idx_${table}_state_narrow`),
      lease: quote(`idx_${table}_lease`),
      origin: quote(`idx_${table}_origin`),
      archivedAt: quote(`idx_${table}_archive_at`),
      priority: quote(`idx_${table}_priority`),
      unique: quote(`idx_${table}_unique`),
      uniqueWindow: quote(`idx_${table}_unique_window`),
      group: quote(`idx_${table}_group`),
      rate: quote(`idx_${table}_rate`),
      groupRate: quote(`idx_${table}_group_rate`),
      parent: quote(`idx_${table}_parent`),
      schedulesNext: quote(`idx_${table}_schedules_next`),
    }),
    functions: Object.freeze({
      messageEnded: `${quote(schema)}.${quote(`${table}_message_ended`)}`,
      archivePartitions: `${quote(schema)}.${quote(`${table}_archive_partitions`)}`,
    }),
    lockKey: qualifiedName,
    channel,
    // The channel holds [a-z0-9_.] only, so there is no quote character to double.
    quotedChannel: quote(channel),
    controlChannel,
    quotedControlChannel: quote(controlChannel),
    finishedChannel,
    quotedFinishedChannel: quote(finishedChannel),
  });
}

import { type QueueTableNames } from '../sql/table-names.js';

/*
 * The facts the diagnostics statements (`diagnostics.sql.ts`) read, typed, and the rows they
 * come from. Shared by the doctor and the vacuum health indicator.
 */

/** One object of the catalog shape: a table, column, default, constraint, index, trigger, function. */
export interface CatalogObject {
  readonly kind: 'table' | 'column' | 'default' | 'constraint' | 'index' | 'trigger' | 'function';
  /** The table it belongs to (unquoted, without schema); null for a function. */
  readonly relation: string | null;
  readonly name: string;
  /** Its definition, the schema's name taken out. */
  readonly definition: string;
}

/** An index a query cannot use (`indisvalid` false). */
export interface InvalidIndex {
  readonly relation: string;
  readonly name: string;
  /** False while a concurrent build has not yet reached its second phase. */
  readonly ready: boolean;
}

/** The queue table as the statistics collector sees it. */
export interface TableVacuumFacts {
  readonly liveTuples: number;
  readonly deadTuples: number;
  /** Seconds since the last autovacuum of the table; null when none ran since statistics reset. */
  readonly autovacuumAgeSeconds: number | null;
  readonly vacuumAgeSeconds: number | null;
  readonly autovacuumCount: number;
  readonly tableBytes: number;
  readonly indexBytes: number;
  /** Average row width `ANALYZE` measured, in bytes; null before the first analyze. */
  readonly rowWidth: number | null;
  readonly fillfactor: number;
  readonly blockSize: number;
}

/** Something holding the xmin horizon back. */
export interface HorizonHolder {
  /** A session (`pg_stat_activity`), a prepared transaction, or a replication slot. */
  readonly source: 'session' | 'prepared' | 'slot';
  /** The pid, the prepared transaction's gid, or the slot's name. */
  readonly id: string;
  readonly role: string | null;
  readonly applicationName: string | null;
  /** `active`, `idle in transaction`, … for a session; `prepared`; `active`/`inactive` for a slot. */
  readonly state: string | null;
  /** The first word of the session's current or last statement (never its text). */
  readonly command: string | null;
  /** Seconds its transaction has been open; null for a slot (Postgres keeps no time for it). */
  readonly ageSeconds: number | null;
  /** Seconds since its current or last statement started (a session only). */
  readonly queryAgeSeconds: number | null;
  /** Transactions begun since the xmin it holds. */
  readonly xidAge: number | null;
}

/** What the role running the check can see of other roles' sessions. */
export interface StatsVisibility {
  /** Superuser or member of `pg_read_all_stats`: every session's `backend_xmin` is visible. */
  readonly seesAll: boolean;
  /** Sessions of this database shown without details: their holding, if any, is unknown. */
  readonly hiddenSessions: number;
}

/** The xmin horizon: its holders, oldest first, and what may be hidden. */
export interface HorizonFacts {
  readonly holders: readonly HorizonHolder[];
  readonly visibility: StatsVisibility;
}

/** Leases expired past the grace period and not reaped. */
export interface ExpiredLeaseFacts {
  readonly count: number;
  readonly oldestExpiredSeconds: number | null;
  /** Up to ten of their queues. */
  readonly queues: readonly string[];
}

export interface CatalogRow {
  readonly kind: CatalogObject['kind'];
  readonly relation: string | null;
  readonly name: string;
  readonly definition: string | null;
}

export interface TableVacuumRow {
  readonly live_tuples: string | number;
  readonly dead_tuples: string | number;
  readonly autovacuum_age_seconds: number | null;
  readonly vacuum_age_seconds: number | null;
  readonly autovacuum_count: string | number;
  readonly table_bytes: string | number;
  readonly index_bytes: string | number;
  readonly row_width: number | null;
  readonly fillfactor: number;
  readonly block_size: number;
}

export interface HorizonRow {
  readonly source: HorizonHolder['source'];
  readonly id: string;
  readonly role: string | null;
  readonly application_name: string | null;
  readonly state: string | null;
  readonly command: string | null;
  readonly age_seconds: number | null;
  readonly query_age_seconds: number | null;
  readonly xid_age: string | number | null;
}

export interface VisibilityRow {
  readonly sees_all: boolean | null;
  readonly hidden_sessions: number;
}

export interface ExpiredLeaseRow {
  readonly count: string | number;
  readonly oldest_expired_seconds: string | number | null;
  readonly queues: string[] | null;
}

const numberOf = (value: string | number): number => Number(value);
const nullableNumber = (value: string | number | null): number | null =>
  value === null ? null : Number(value);

/**
 * A catalog definition with `schema`'s name taken out, so that the same object in two schemas
 * reads the same. Catalog functions print a name `schema.name` unquoted when it needs no
 * quotes; our own SQL writes `"schema"."name"`.
 */
export function withoutSchema(definition: string, schema: string): string {
  const pattern = new RegExp(`(?<![A-Za-z0-9_$"])(?:"${schema}"|${schema})\\.`, 'g');
  return definition.replace(pattern, '');
}

/**
 * The catalog rows of one schema, made comparable with another's: the schema's name taken out,
 * and the table's NOTIFY channels (derived from the schema's name, in the trigger function's
 * body) named by their role.
 */
export function toCatalogObjects(
  rows: readonly CatalogRow[],
  names: QueueTableNames,
): CatalogObject[] {
  const channels: ReadonlyArray<readonly [string, string]> = [
    [`'${names.finishedChannel}'`, "'<finished channel>'"],
    [`'${names.controlChannel}'`, "'<control channel>'"],
    [`'${names.channel}'`, "'<channel>'"],
    // The archive's partition keeper names its schema as a text literal.
    [`'${names.schema}'`, "'<schema>'"],
  ];
  const comparable = (definition: string): string =>
    withoutSchema(
      channels.reduce((text, [channel, role]) => text.split(channel).join(role), definition),
      names.schema,
    );
  return rows.map((row) => ({
    kind: row.kind,
    relation: row.relation,
    name: row.name,
    definition: comparable(row.definition ?? ''),
  }));
}

export function toTableVacuumFacts(row: TableVacuumRow | undefined): TableVacuumFacts | null {
  if (row === undefined) return null;
  return {
    liveTuples: numberOf(row.live_tuples),
    deadTuples: numberOf(row.dead_tuples),
    autovacuumAgeSeconds: row.autovacuum_age_seconds,
    vacuumAgeSeconds: row.vacuum_age_seconds,
    autovacuumCount: numberOf(row.autovacuum_count),
    tableBytes: numberOf(row.table_bytes),
    indexBytes: numberOf(row.index_bytes),
    rowWidth: row.row_width,
    fillfactor: row.fillfactor,
    blockSize: row.block_size,
  };
}

export function toHorizonFacts(
  rows: readonly HorizonRow[],
  visibility: VisibilityRow | undefined,
): HorizonFacts {
  return {
    holders: rows.map((row) => ({
      source: row.source,
      id: row.id,
      role: row.role,
      applicationName: row.application_name,
      state: row.state,
      command: row.command,
      ageSeconds: row.age_seconds,
      queryAgeSeconds: row.query_age_seconds,
      xidAge: nullableNumber(row.xid_age),
    })),
    visibility: {
      seesAll: visibility?.sees_all === true,
      hiddenSessions: visibility?.hidden_sessions ?? 0,
    },
  };
}

export function toExpiredLeaseFacts(row: ExpiredLeaseRow | undefined): ExpiredLeaseFacts {
  return {
    count: row === undefined ? 0 : numberOf(row.count),
    oldestExpiredSeconds: row === undefined ? null : nullableNumber(row.oldest_expired_seconds),
    queues: row?.queues ?? [],
  };
}

/**
 * Seconds the oldest transaction holding the horizon has been open: the number the health
 * indicator judges. A slot keeps no time, so it counts through the doctor's xid age only.
 */
export function horizonAgeSeconds(facts: HorizonFacts): number {
  return Math.max(0, ...facts.holders.map((holder) => holder.ageSeconds ?? 0));
}

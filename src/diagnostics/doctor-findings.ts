import {
  type CatalogObject,
  type ExpiredLeaseFacts,
  type HorizonFacts,
  type HorizonHolder,
  type InvalidIndex,
  type TableVacuumFacts,
} from '../store/diagnostics-rows.js';
import { type CatalogShapes } from '../store/diagnostics-store.js';

/*
 * The doctor's judgement: facts read from the database in, findings out. Pure, so that every
 * threshold is a unit test.
 */

/** How bad a finding is: `problem` makes the doctor exit with `CLI_EXIT.findings`. */
export type FindingSeverity = 'problem' | 'warning' | 'ok';

/** What a finding is about. */
export type DoctorCheck =
  'migrations' | 'schema' | 'indexes' | 'vacuum' | 'bloat' | 'horizon' | 'leases';

/** The checks in the order the report lists them. */
export const DOCTOR_CHECKS: readonly DoctorCheck[] = [
  'migrations',
  'schema',
  'indexes',
  'vacuum',
  'bloat',
  'horizon',
  'leases',
];

export interface DoctorFinding {
  readonly check: DoctorCheck;
  readonly severity: FindingSeverity;
  /** What was found, in one line. */
  readonly summary: string;
  /** What to do about it; absent for `ok`. */
  readonly action?: string;
  /** The numbers behind it, for `--json`. */
  readonly details?: Readonly<Record<string, unknown>>;
}

/** Everything the doctor read. */
export interface DoctorFacts {
  readonly schema: string;
  readonly table: string;
  readonly migrations: {
    readonly applied: readonly string[];
    readonly pending: readonly string[];
    readonly unknown: readonly string[];
  };
  readonly shapes: CatalogShapes;
  readonly invalidIndexes: readonly InvalidIndex[];
  /** Null when the queue table does not exist. */
  readonly vacuum: TableVacuumFacts | null;
  readonly horizon: HorizonFacts;
  /** Null when the queue table does not exist. */
  readonly expiredLeases: ExpiredLeaseFacts | null;
}

/** Where a finding starts. */
export interface DoctorThresholds {
  /** A lease expired longer ago than this and still `leased` is a problem. */
  readonly leaseGraceSeconds: number;
  /** A transaction holding the horizon this long is a problem; half as long, a warning. */
  readonly maxHorizonAgeSeconds: number;
}

/** Seconds past which a transaction holding the horizon is worth a warning, at most. */
const HORIZON_WARNING_SECONDS = 300;
/** Transactions begun since a held xmin: a warning, then a problem (wraparound is 2^31 away). */
const XID_AGE_WARNING = 10_000_000;
const XID_AGE_PROBLEM = 100_000_000;
/** Dead tuples: at least this many and this share of all tuples. */
const DEAD_WARNING = { tuples: 10_000, ratio: 0.2 } as const;
const DEAD_PROBLEM = { tuples: 1_000_000, ratio: 0.5 } as const;
/** Estimated bloat: this share of the table's file, and at least this much wasted space. */
const BLOAT_WARNING = { ratio: 0.5, bytes: 64 * 1024 * 1024 } as const;
const BLOAT_PROBLEM = { ratio: 0.8, bytes: 1024 * 1024 * 1024 } as const;
/** Tuple header (23 bytes, aligned) and line pointer: what a row costs beside its columns. */
const ROW_OVERHEAD_BYTES = 28;

export const DEFAULT_DOCTOR_THRESHOLDS: DoctorThresholds = {
  // The reaper runs every 5 s by default: a minute is a dozen runs missed.
  leaseGraceSeconds: 60,
  maxHorizonAgeSeconds: 1_800,
};

/** Every finding, problems first within each check, in {@link DOCTOR_CHECKS} order. */
export function diagnose(
  facts: DoctorFacts,
  thresholds: DoctorThresholds = DEFAULT_DOCTOR_THRESHOLDS,
): DoctorFinding[] {
  const qualified = `${facts.schema}.${facts.table}`;
  const tableMissing = facts.shapes.actual.some(
    (object) =>
      object.kind === 'table' && object.name === facts.table && object.definition === 'missing',
  );
  if (tableMissing) {
    return [
      {
        check: 'migrations',
        severity: 'problem',
        summary: `${qualified} does not exist`,
        action: 'create it: run `fetchcraft-queue migrate`, or boot the module with migrationsRun',
      },
    ];
  }
  const findings = [
    ...migrationFindings(facts),
    ...driftFindings(facts),
    ...indexFindings(facts),
    ...(facts.vacuum === null ? [] : vacuumFindings(facts.vacuum, qualified)),
    ...(facts.vacuum === null ? [] : bloatFindings(facts.vacuum, qualified)),
    ...horizonFindings(facts.horizon, thresholds),
    ...(facts.expiredLeases === null ? [] : leaseFindings(facts.expiredLeases, thresholds)),
  ];
  const rank: Record<FindingSeverity, number> = { problem: 0, warning: 1, ok: 2 };
  return findings.sort(
    (a, b) =>
      DOCTOR_CHECKS.indexOf(a.check) - DOCTOR_CHECKS.indexOf(b.check) ||
      rank[a.severity] - rank[b.severity],
  );
}

/** Whether any finding is a problem: the doctor's exit code. */
export function hasProblems(findings: readonly DoctorFinding[]): boolean {
  return findings.some((finding) => finding.severity === 'problem');
}

function ok(check: DoctorCheck, summary: string, details?: Record<string, unknown>): DoctorFinding {
  return { check, severity: 'ok', summary, ...(details === undefined ? {} : { details }) };
}

function migrationFindings(facts: DoctorFacts): DoctorFinding[] {
  const { applied, pending, unknown } = facts.migrations;
  const findings: DoctorFinding[] = [];
  if (pending.length > 0) {
    findings.push({
      check: 'migrations',
      severity: 'problem',
      summary: `${pending.length} migration${pending.length === 1 ? '' : 's'} pending: ${pending.join(', ')}`,
      action: 'apply them: run `fetchcraft-queue migrate` before the new release starts',
      details: { pending },
    });
  }
  if (unknown.length > 0) {
    findings.push({
      check: 'migrations',
      severity: 'warning',
      summary: `applied by a newer release: ${unknown.join(', ')}`,
      action:
        'run the doctor of that release: this one compares the schema with its own migrations',
      details: { unknown },
    });
  }
  return findings.length > 0
    ? findings
    : [ok('migrations', `${applied.length} applied, none pending`)];
}

/** The key of a catalog object: the same object in two schemas has the same key. */
function keyOf(object: CatalogObject): string {
  return `${object.kind}\u0000${object.relation ?? ''}\u0000${object.name}`;
}

function describe(object: CatalogObject): string {
  if (object.kind === 'table') return `table ${object.name}`;
  if (object.kind === 'function') return `function ${object.name}`;
  if (object.kind === 'default') return `default of ${object.relation}.${object.name}`;
  return `${object.kind} ${object.name} on ${object.relation}`;
}

/**
 * The differences between the table as it is and as this release's migrations create it. A
 * missing or changed object is a problem: statements of this package or of the Python backend
 * rely on it. So is a stray column of the queue table or the archive: the Python backend copies
 * rows with `INSERT INTO <archive> SELECT * FROM <table>`, which needs the two to match, and a
 * NOT NULL column without a default refuses every insert. A stray index, constraint or trigger
 * is a warning: it works, and costs every write. A changed default is a warning too: a table
 * adopted from the Python backend keeps its own.
 */
export function driftFindings(facts: DoctorFacts): DoctorFinding[] {
  const { shapes, schema, migrations } = facts;
  // Compared with this release's last migration, a table behind it or ahead of it would show
  // every change in between as drift: the migrations finding says what to do instead.
  if (migrations.pending.length > 0 || migrations.unknown.length > 0) {
    return [
      {
        check: 'schema',
        severity: 'warning',
        summary: `not compared with the migrations: the table is ${migrations.pending.length > 0 ? 'behind' : 'ahead of'} this release`,
        action:
          migrations.pending.length > 0
            ? 'apply the pending migrations, then run the doctor again'
            : 'run the doctor of the release that migrated the table',
      },
    ];
  }
  if (shapes.expected === null) {
    return [
      {
        check: 'schema',
        severity: 'warning',
        summary: `not compared with the migrations: ${shapes.expectedUnknown ?? 'unknown why'}`,
        action: 'run the doctor as a role with CREATE on the database (e.g. the migrating role)',
      },
    ];
  }
  const actual = new Map(shapes.actual.map((object) => [keyOf(object), object]));
  const expected = new Map(shapes.expected.map((object) => [keyOf(object), object]));
  const missingTables = new Set(
    shapes.actual
      .filter((object) => object.kind === 'table' && object.definition === 'missing')
      .map((object) => object.name),
  );
  const findings: DoctorFinding[] = [];
  for (const [key, want] of expected) {
    if (want.relation !== null && want.kind !== 'table' && missingTables.has(want.relation)) {
      continue;
    }
    const found = actual.get(key);
    if (found !== undefined && found.definition === want.definition) continue;
    const soft = want.kind === 'default';
    if (found === undefined || (want.kind === 'table' && found.definition === 'missing')) {
      findings.push({
        check: 'schema',
        severity: soft ? 'warning' : 'problem',
        summary: `${describe(want)} is missing`,
        action: repairOf(want, schema),
        details: { expected: want.definition },
      });
    } else {
      findings.push({
        check: 'schema',
        severity: soft ? 'warning' : 'problem',
        summary: `${describe(want)} differs from what the migrations create`,
        action: `make it match what the migrations create: ${want.definition}`,
        details: { expected: want.definition, found: found.definition },
      });
    }
  }
  for (const [key, extra] of actual) {
    if (expected.has(key)) continue;
    const column = extra.kind === 'column';
    findings.push({
      check: 'schema',
      severity: column ? 'problem' : 'warning',
      summary: `${describe(extra)} is not created by the migrations`,
      action: column
        ? `drop it if nothing uses it (ALTER TABLE ${schema}.${extra.relation} DROP COLUMN ${extra.name}): the queue table and its archive must keep the migrations' columns, in order`
        : `drop it if nothing needs it: it costs every write to ${extra.relation ?? 'the table'}`,
      details: { found: extra.definition },
    });
  }
  return findings.length > 0
    ? findings
    : [ok('schema', `matches the migrations (${expected.size} objects compared)`)];
}

/** What recreates a missing object, when one statement does. */
function repairOf(object: CatalogObject, schema: string): string {
  if (object.kind === 'index' && object.relation !== null) {
    const statement = object.definition
      .replace(/^CREATE (UNIQUE )?INDEX /, 'CREATE $1INDEX CONCURRENTLY ')
      .replace(` ON ${object.relation} `, ` ON ${schema}.${object.relation} `);
    return `create it again, without blocking writes: ${statement}`;
  }
  return 'the table was changed by hand: restore the object as the migrations create it (compare with a fresh schema: `fetchcraft-queue migrate --schema scratch`)';
}

function indexFindings(facts: DoctorFacts): DoctorFinding[] {
  if (facts.invalidIndexes.length === 0) return [ok('indexes', 'every index is valid')];
  return facts.invalidIndexes.map((index) => ({
    check: 'indexes',
    severity: 'problem',
    summary: `index ${index.name} on ${index.relation} is invalid: ${
      index.ready
        ? 'queries cannot use it, yet every write maintains it'
        : 'a concurrent build failed (or still runs) before finishing it; queries cannot use it'
    }`,
    action: `if no CREATE INDEX CONCURRENTLY is running, drop it (DROP INDEX CONCURRENTLY ${facts.schema}.${index.name}) and build it again`,
    details: { ...index },
  }));
}

const percent = (ratio: number): string => `${Math.round(ratio * 100)} %`;
const megabytes = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

/**
 * Dead tuples of the queue table. A queue table turns over every row it holds, so some dead
 * tuples are normal between two autovacuums; many, and a large share, mean vacuum does not keep
 * up, or cannot (a long transaction holds the horizon).
 */
export function vacuumFindings(vacuum: TableVacuumFacts, qualified: string): DoctorFinding[] {
  const total = vacuum.liveTuples + vacuum.deadTuples;
  const ratio = total === 0 ? 0 : vacuum.deadTuples / total;
  const details = {
    liveTuples: vacuum.liveTuples,
    deadTuples: vacuum.deadTuples,
    deadRatio: Number(ratio.toFixed(3)),
    lastAutovacuumSecondsAgo:
      vacuum.autovacuumAgeSeconds === null ? null : Math.round(vacuum.autovacuumAgeSeconds),
    autovacuumCount: vacuum.autovacuumCount,
  };
  const summary = `${vacuum.deadTuples} dead and ${vacuum.liveTuples} live tuples (${percent(ratio)} dead), last autovacuum ${
    vacuum.autovacuumAgeSeconds === null
      ? 'never'
      : `${Math.round(vacuum.autovacuumAgeSeconds)} s ago`
  }`;
  const crosses = (limit: { tuples: number; ratio: number }) =>
    vacuum.deadTuples >= limit.tuples && ratio >= limit.ratio;
  const severity = crosses(DEAD_PROBLEM) ? 'problem' : crosses(DEAD_WARNING) ? 'warning' : 'ok';
  if (severity === 'ok') return [ok('vacuum', summary, details)];
  return [
    {
      check: 'vacuum',
      severity,
      summary,
      action: `look at the horizon first: vacuum cannot remove what an open transaction may still see; if autovacuum rarely runs, make it run sooner on this table (ALTER TABLE ${qualified} SET (autovacuum_vacuum_scale_factor = 0.01))`,
      details,
    },
  ];
}

/**
 * A rough estimate of the space in the queue table's file that live rows do not use: the rows
 * counted times their average width (from `ANALYZE`) and header, at the table's fillfactor,
 * against the file's size. Index bloat is not estimated (that needs pgstattuple); their size
 * is reported beside it.
 */
export function estimatedBloat(vacuum: TableVacuumFacts): number | null {
  if (vacuum.rowWidth === null || vacuum.tableBytes === 0) return null;
  const needed =
    (vacuum.liveTuples * (vacuum.rowWidth + ROW_OVERHEAD_BYTES)) / (vacuum.fillfactor / 100);
  return Math.max(0, Math.min(1, 1 - needed / vacuum.tableBytes));
}

export function bloatFindings(vacuum: TableVacuumFacts, qualified: string): DoctorFinding[] {
  const bloat = estimatedBloat(vacuum);
  const sizes = `table ${megabytes(vacuum.tableBytes)}, indexes ${megabytes(vacuum.indexBytes)}`;
  const details = {
    tableBytes: vacuum.tableBytes,
    indexBytes: vacuum.indexBytes,
    estimatedBloatRatio: bloat === null ? null : Number(bloat.toFixed(3)),
  };
  if (bloat === null) {
    return [ok('bloat', `${sizes}; bloat not estimated: the table was never analyzed`, details)];
  }
  const wasted = bloat * vacuum.tableBytes;
  const crosses = (limit: { ratio: number; bytes: number }) =>
    bloat >= limit.ratio && wasted >= limit.bytes;
  const severity = crosses(BLOAT_PROBLEM) ? 'problem' : crosses(BLOAT_WARNING) ? 'warning' : 'ok';
  const summary = `${sizes}; about ${percent(bloat)} of the table's file is free space (estimate)`;
  if (severity === 'ok') return [ok('bloat', summary, details)];
  return [
    {
      check: 'bloat',
      severity,
      summary,
      action: `vacuum reuses the space but does not shrink the file; once dead tuples stay low, pg_repack (online) or VACUUM FULL ${qualified} (locks the table) gives it back`,
      details,
    },
  ];
}

function holderText(holder: HorizonHolder): string {
  const age = holder.ageSeconds === null ? '' : `open ${Math.round(holder.ageSeconds)} s, `;
  const xids = holder.xidAge === null ? '' : `${holder.xidAge} transactions behind`;
  if (holder.source === 'prepared') {
    return `prepared transaction '${holder.id}' (${age}${xids})`;
  }
  if (holder.source === 'slot') return `replication slot ${holder.id} (${holder.state}, ${xids})`;
  const who = [
    holder.applicationName === null || holder.applicationName === ''
      ? undefined
      : `application '${holder.applicationName}'`,
    holder.role === null ? undefined : `role ${holder.role}`,
    holder.state ?? undefined,
    holder.command === null ? undefined : `last statement ${holder.command.toUpperCase()}`,
  ].filter((part) => part !== undefined);
  return `pid ${holder.id} (${[...who, `${age}${xids}`].join(', ')})`;
}

function holderAction(holder: HorizonHolder): string {
  if (holder.source === 'prepared') {
    return `finish it: COMMIT PREPARED '${holder.id}' or ROLLBACK PREPARED '${holder.id}'`;
  }
  if (holder.source === 'slot') {
    return `a standby with hot_standby_feedback or an abandoned slot: drop it if unused (SELECT pg_drop_replication_slot('${holder.id}'))`;
  }
  return `find why the transaction stays open; if abandoned, end it (SELECT pg_terminate_backend(${holder.id})); idle_in_transaction_session_timeout keeps it from happening again`;
}

/**
 * The oldest transaction holding the horizon. While it stays open, vacuum removes no row
 * version newer than its snapshot from any table of the database, and a queue table makes
 * several per message.
 */
export function horizonFindings(
  horizon: HorizonFacts,
  thresholds: DoctorThresholds,
): DoctorFinding[] {
  const findings: DoctorFinding[] = [];
  const warnSeconds = Math.min(HORIZON_WARNING_SECONDS, thresholds.maxHorizonAgeSeconds / 2);
  const severityOf = (holder: HorizonHolder): FindingSeverity => {
    const seconds = holder.ageSeconds ?? 0;
    const xids = holder.xidAge ?? 0;
    if (seconds >= thresholds.maxHorizonAgeSeconds || xids >= XID_AGE_PROBLEM) return 'problem';
    if (seconds >= warnSeconds || xids >= XID_AGE_WARNING) return 'warning';
    return 'ok';
  };
  const [oldest] = [...horizon.holders].sort(
    (a, b) => (b.ageSeconds ?? 0) - (a.ageSeconds ?? 0) || (b.xidAge ?? 0) - (a.xidAge ?? 0),
  );
  const flagged = horizon.holders.filter((holder) => severityOf(holder) !== 'ok');
  for (const holder of flagged) {
    findings.push({
      check: 'horizon',
      severity: severityOf(holder),
      summary: `vacuum is held back by ${holderText(holder)}`,
      action: holderAction(holder),
      details: { ...holder },
    });
  }
  if (!horizon.visibility.seesAll && horizon.visibility.hiddenSessions > 0) {
    findings.push({
      check: 'horizon',
      severity: 'warning',
      summary: `${horizon.visibility.hiddenSessions} session${horizon.visibility.hiddenSessions === 1 ? '' : 's'} of other roles could not be inspected: one of them may hold the horizon`,
      action:
        'run the doctor as a member of pg_read_all_stats (GRANT pg_read_all_stats TO <role>) to see every session',
      details: { hiddenSessions: horizon.visibility.hiddenSessions },
    });
  }
  if (findings.length === 0) {
    findings.push(
      ok(
        'horizon',
        oldest === undefined
          ? 'no open transaction holds vacuum back'
          : `oldest holder: ${holderText(oldest)}`,
        oldest === undefined ? {} : { ...oldest },
      ),
    );
  }
  return findings;
}

export function leaseFindings(
  leases: ExpiredLeaseFacts,
  thresholds: DoctorThresholds,
): DoctorFinding[] {
  if (leases.count === 0) {
    return [
      ok(
        'leases',
        `no lease expired more than ${thresholds.leaseGraceSeconds} s ago is left unreaped`,
      ),
    ];
  }
  return [
    {
      check: 'leases',
      severity: 'problem',
      summary: `${leases.count} lease${leases.count === 1 ? '' : 's'} expired and not reaped, the oldest ${leases.oldestExpiredSeconds ?? '?'} s ago (queues: ${leases.queues.join(', ')})`,
      action:
        'no reaper returns them: run at least one replica with the reaper on (maintenance.reaper), or look for its errors in the logs',
      details: { ...leases },
    },
  ];
}

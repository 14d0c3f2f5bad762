import { describe, expect, it } from '@jest/globals';
import { doctorThresholds } from '../../src/cli/commands/doctor.command.js';
import { doctorJson, doctorLines } from '../../src/cli/doctor-report.js';
import { queueTableNames } from '../../src/config/identifier-rules.js';
import {
  DEFAULT_DOCTOR_THRESHOLDS,
  bloatFindings,
  diagnose,
  driftFindings,
  estimatedBloat,
  hasProblems,
  horizonFindings,
  leaseFindings,
  vacuumFindings,
  type DoctorFacts,
} from '../../src/diagnostics/doctor-findings.js';
import {
  horizonAgeSeconds,
  toCatalogObjects,
  withoutSchema,
  type CatalogObject,
  type HorizonHolder,
  type TableVacuumFacts,
} from '../../src/store/diagnostics-rows.js';
import { QueueValidationError } from '../../src/errors/queue-validation.error.js';

const column = (name: string, definition: string, relation = 'messages'): CatalogObject => ({
  kind: 'column',
  relation,
  name,
  definition,
});
const table = (name: string, definition: 'present' | 'missing' = 'present'): CatalogObject => ({
  kind: 'table',
  relation: name,
  name,
  definition,
});
const leaseIndex: CatalogObject = {
  kind: 'index',
  relation: 'messages',
  name: 'idx_messages_lease',
  definition:
    "CREATE INDEX idx_messages_lease ON messages USING btree (lease_until) WHERE (state = 'leased'::text)",
};
const expected: CatalogObject[] = [
  table('messages'),
  table('messages_archive'),
  column('id', '#1 text NOT NULL'),
  column('queue', '#2 text NOT NULL'),
  column('id', '#1 text NOT NULL', 'messages_archive'),
  { kind: 'default', relation: 'messages', name: 'attempts', definition: '0' },
  leaseIndex,
];

function facts(overrides: Partial<DoctorFacts> = {}): DoctorFacts {
  return {
    schema: 'app',
    table: 'messages',
    migrations: { applied: ['A1', 'B2'], pending: [], unknown: [] },
    shapes: { actual: expected, expected },
    invalidIndexes: [],
    vacuum: vacuum({}),
    horizon: { holders: [], visibility: { seesAll: true, hiddenSessions: 0 } },
    expiredLeases: { count: 0, oldestExpiredSeconds: null, queues: [] },
    ...overrides,
  };
}

function vacuum(overrides: Partial<TableVacuumFacts>): TableVacuumFacts {
  return {
    liveTuples: 1_000,
    deadTuples: 10,
    autovacuumAgeSeconds: 30,
    vacuumAgeSeconds: null,
    autovacuumCount: 4,
    tableBytes: 8192 * 40,
    indexBytes: 8192 * 20,
    rowWidth: 200,
    fillfactor: 100,
    blockSize: 8192,
    ...overrides,
  };
}

function session(overrides: Partial<HorizonHolder>): HorizonHolder {
  return {
    source: 'session',
    id: '4242',
    role: 'app',
    applicationName: 'billing',
    state: 'idle in transaction',
    command: 'select',
    ageSeconds: 10,
    queryAgeSeconds: 10,
    xidAge: 5,
    ...overrides,
  };
}

describe('diagnose', () => {
  it('says ok for every check of a healthy table, and no problem', () => {
    const findings = diagnose(facts());
    expect(findings.map((finding) => [finding.check, finding.severity])).toEqual([
      ['migrations', 'ok'],
      ['schema', 'ok'],
      ['indexes', 'ok'],
      ['vacuum', 'ok'],
      ['bloat', 'ok'],
      ['horizon', 'ok'],
      ['leases', 'ok'],
    ]);
    expect(hasProblems(findings)).toBe(false);
    expect(findings[1]!.summary).toBe('matches the migrations (7 objects compared)');
  });

  it('reports a missing table alone, and pending or newer migrations', () => {
    const missing = diagnose(
      facts({ shapes: { actual: [table('messages', 'missing')], expected } }),
    );
    expect(missing).toEqual([
      expect.objectContaining({
        check: 'migrations',
        severity: 'problem',
        summary: 'app.messages does not exist',
      }),
    ]);
    const pending = diagnose(
      facts({ migrations: { applied: ['A1'], pending: ['B2'], unknown: ['Z9'] } }),
    );
    expect(pending.slice(0, 3)).toEqual([
      expect.objectContaining({ severity: 'problem', summary: '1 migration pending: B2' }),
      expect.objectContaining({ severity: 'warning', summary: 'applied by a newer release: Z9' }),
      // A table behind the migrations would show each pending change as drift: not compared.
      expect.objectContaining({
        check: 'schema',
        severity: 'warning',
        summary: 'not compared with the migrations: the table is behind this release',
      }),
    ]);
    expect(hasProblems(pending)).toBe(true);
  });

  it('orders problems before warnings within a check', () => {
    const findings = diagnose(
      facts({
        horizon: {
          holders: [session({ ageSeconds: 400 }), session({ id: '7', ageSeconds: 4_000 })],
          visibility: { seesAll: true, hiddenSessions: 0 },
        },
      }),
    );
    expect(
      findings.filter((f) => f.check === 'horizon').map((f) => [f.severity, f.details?.id]),
    ).toEqual([
      ['problem', '7'],
      ['warning', '4242'],
    ]);
  });
});

describe('driftFindings', () => {
  it('reports missing, changed and stray objects with their severity', () => {
    const actual: CatalogObject[] = [
      table('messages'),
      table('messages_archive'),
      column('id', '#1 text NOT NULL'),
      column('queue', '#2 character varying NOT NULL'),
      column('stray', '#3 text'),
      column('id', '#1 text NOT NULL', 'messages_archive'),
      { kind: 'default', relation: 'messages', name: 'attempts', definition: '1' },
      {
        kind: 'index',
        relation: 'messages',
        name: 'idx_mine',
        definition: 'CREATE INDEX idx_mine ON messages USING btree (queue)',
      },
    ];
    const findings = driftFindings(facts({ shapes: { actual, expected } }));
    expect(findings.map((f) => [f.severity, f.summary])).toEqual([
      ['problem', 'column queue on messages differs from what the migrations create'],
      ['warning', 'default of messages.attempts differs from what the migrations create'],
      ['problem', 'index idx_messages_lease on messages is missing'],
      ['problem', 'column stray on messages is not created by the migrations'],
      ['warning', 'index idx_mine on messages is not created by the migrations'],
    ]);
    expect(findings[2]!.action).toBe(
      "create it again, without blocking writes: CREATE INDEX CONCURRENTLY idx_messages_lease ON app.messages USING btree (lease_until) WHERE (state = 'leased'::text)",
    );
    expect(findings[3]!.action).toContain('ALTER TABLE app.messages DROP COLUMN stray');
  });

  it('reports a missing companion table once, not each of its objects', () => {
    const actual = [
      ...expected.filter((object) => object.relation !== 'messages_archive'),
      table('messages_archive', 'missing'),
    ];
    expect(driftFindings(facts({ shapes: { actual, expected } }))).toEqual([
      expect.objectContaining({
        severity: 'problem',
        summary: 'table messages_archive is missing',
      }),
    ]);
  });

  it('warns when the migrations could not be run to compare with', () => {
    const findings = driftFindings(
      facts({ shapes: { actual: expected, expected: null, expectedUnknown: 'no CREATE' } }),
    );
    expect(findings).toEqual([
      expect.objectContaining({
        severity: 'warning',
        summary: 'not compared with the migrations: no CREATE',
      }),
    ]);
  });
});

describe('catalog definitions of two schemas', () => {
  it('compare equal once the schema and the channels are taken out', () => {
    expect(withoutSchema('CREATE INDEX i ON app.messages USING btree (q)', 'app')).toBe(
      'CREATE INDEX i ON messages USING btree (q)',
    );
    expect(withoutSchema('SELECT 1 FROM "app"."messages", myapp.x', 'app')).toBe(
      'SELECT 1 FROM "messages", myapp.x',
    );
    const shapes = ['one', 'two'].map((schema) => {
      const names = queueTableNames(schema, 'messages');
      return toCatalogObjects(
        [
          {
            kind: 'function',
            relation: null,
            name: 'messages_message_ended()',
            definition: `CREATE FUNCTION ${schema}.f() AS $$ PERFORM pg_notify('${names.finishedChannel}', id); PERFORM pg_notify('${names.channel}', q) $$`,
          },
        ],
        names,
      );
    });
    expect(shapes[0]).toEqual(shapes[1]);
    expect(shapes[0]![0]!.definition).toBe(
      "CREATE FUNCTION f() AS $$ PERFORM pg_notify('<finished channel>', id); PERFORM pg_notify('<channel>', q) $$",
    );
  });
});

describe('vacuum and bloat', () => {
  it('turns dead tuples into a warning, then a problem, by count and share', () => {
    const severity = (live: number, dead: number) =>
      vacuumFindings(vacuum({ liveTuples: live, deadTuples: dead }), 'app.messages')[0]!.severity;
    expect(severity(1_000, 9_999)).toBe('ok');
    expect(severity(100_000, 20_000)).toBe('ok');
    expect(severity(40_000, 10_000)).toBe('warning');
    expect(severity(1_000_000, 1_000_000)).toBe('problem');
    expect(severity(2_000_000, 1_000_000)).toBe('warning');
    const [finding] = vacuumFindings(
      vacuum({ liveTuples: 10, deadTuples: 50_000, autovacuumAgeSeconds: null }),
      'app.messages',
    );
    expect(finding!.summary).toBe(
      '50000 dead and 10 live tuples (100 % dead), last autovacuum never',
    );
    expect(finding!.action).toContain('autovacuum_vacuum_scale_factor');
  });

  it('estimates bloat from the rows, their width and the fillfactor', () => {
    expect(estimatedBloat(vacuum({ rowWidth: null }))).toBeNull();
    const tight = vacuum({ liveTuples: 1_000, rowWidth: 72, tableBytes: 100_000 });
    expect(estimatedBloat(tight)).toBe(0);
    const half = vacuum({ liveTuples: 1_000, rowWidth: 72, tableBytes: 200_000 });
    expect(estimatedBloat(half)).toBeCloseTo(0.5);
    expect(estimatedBloat({ ...half, fillfactor: 50 })).toBe(0);
    // Half empty but small: not worth a warning.
    expect(bloatFindings(half, 'app.messages')[0]!.severity).toBe('ok');
    const big = vacuum({ liveTuples: 1_000_000, rowWidth: 72, tableBytes: 1_000_000_000 });
    expect(bloatFindings(big, 'app.messages')[0]).toMatchObject({
      severity: 'warning',
      summary: expect.stringMatching(/about 90 % of the table's file is free space/),
    });
    const huge = vacuum({ liveTuples: 1_000_000, rowWidth: 72, tableBytes: 5_000_000_000 });
    expect(bloatFindings(huge, 'app.messages')[0]!.severity).toBe('problem');
  });
});

describe('horizonFindings', () => {
  const visible = { seesAll: true, hiddenSessions: 0 };

  it('judges the holders by the seconds they are open and the transactions behind them', () => {
    const severity = (holder: HorizonHolder, maxHorizonAgeSeconds = 1_800) =>
      horizonFindings(
        { holders: [holder], visibility: visible },
        { ...DEFAULT_DOCTOR_THRESHOLDS, maxHorizonAgeSeconds },
      )[0]!.severity;
    expect(severity(session({ ageSeconds: 299 }))).toBe('ok');
    expect(severity(session({ ageSeconds: 300 }))).toBe('warning');
    expect(severity(session({ ageSeconds: 1_800 }))).toBe('problem');
    expect(severity(session({ ageSeconds: 1 }), 2)).toBe('warning');
    expect(severity(session({ ageSeconds: 2 }), 2)).toBe('problem');
    expect(severity(session({ ageSeconds: 1, xidAge: 10_000_000 }))).toBe('warning');
    expect(severity(session({ ageSeconds: 1, xidAge: 100_000_000 }))).toBe('problem');
  });

  it('says who holds it and what to do, never the statement text', () => {
    const [finding] = horizonFindings(
      { holders: [session({ ageSeconds: 2_000 })], visibility: visible },
      DEFAULT_DOCTOR_THRESHOLDS,
    );
    expect(finding).toMatchObject({
      severity: 'problem',
      summary:
        "vacuum is held back by pid 4242 (application 'billing', role app, idle in transaction, last statement SELECT, open 2000 s, 5 transactions behind)",
      action: expect.stringContaining('SELECT pg_terminate_backend(4242)'),
    });
    const prepared = horizonFindings(
      {
        holders: [
          session({ source: 'prepared', id: 'tx1', ageSeconds: 4_000, command: null }),
          session({
            source: 'slot',
            id: 'standby',
            state: 'inactive',
            ageSeconds: null,
            xidAge: 2e8,
          }),
        ],
        visibility: visible,
      },
      DEFAULT_DOCTOR_THRESHOLDS,
    );
    expect(prepared.map((f) => [f.summary, f.action])).toEqual([
      [
        "vacuum is held back by prepared transaction 'tx1' (open 4000 s, 5 transactions behind)",
        "finish it: COMMIT PREPARED 'tx1' or ROLLBACK PREPARED 'tx1'",
      ],
      [
        'vacuum is held back by replication slot standby (inactive, 200000000 transactions behind)',
        expect.stringContaining("pg_drop_replication_slot('standby')"),
      ],
    ]);
  });

  it('warns of sessions it could not see, and names the oldest holder when all is well', () => {
    const hidden = horizonFindings(
      { holders: [], visibility: { seesAll: false, hiddenSessions: 3 } },
      DEFAULT_DOCTOR_THRESHOLDS,
    );
    expect(hidden).toEqual([
      expect.objectContaining({
        severity: 'warning',
        summary:
          '3 sessions of other roles could not be inspected: one of them may hold the horizon',
      }),
    ]);
    const fine = horizonFindings(
      {
        holders: [session({ ageSeconds: 3 }), session({ id: '9', ageSeconds: 12 })],
        visibility: visible,
      },
      DEFAULT_DOCTOR_THRESHOLDS,
    );
    expect(fine).toEqual([
      expect.objectContaining({
        severity: 'ok',
        summary: expect.stringMatching(/^oldest holder: pid 9 /),
      }),
    ]);
    expect(
      horizonAgeSeconds({
        holders: [session({ ageSeconds: 3 }), session({ ageSeconds: null })],
        visibility: visible,
      }),
    ).toBe(3);
    expect(horizonAgeSeconds({ holders: [], visibility: visible })).toBe(0);
  });
});

describe('leaseFindings', () => {
  it('makes any lease expired past the grace period a problem', () => {
    expect(
      leaseFindings(
        { count: 0, oldestExpiredSeconds: null, queues: [] },
        DEFAULT_DOCTOR_THRESHOLDS,
      ),
    ).toEqual([
      expect.objectContaining({
        severity: 'ok',
        summary: 'no lease expired more than 60 s ago is left unreaped',
      }),
    ]);
    expect(
      leaseFindings(
        { count: 2, oldestExpiredSeconds: 300, queues: ['a', 'b'] },
        DEFAULT_DOCTOR_THRESHOLDS,
      ),
    ).toEqual([
      expect.objectContaining({
        severity: 'problem',
        summary: '2 leases expired and not reaped, the oldest 300 s ago (queues: a, b)',
        action: expect.stringContaining('maintenance.reaper'),
      }),
    ]);
  });
});

describe('the doctor command', () => {
  it('reads its thresholds from its options', () => {
    const input = (options: Record<string, string>) => ({ options, json: false });
    expect(doctorThresholds(input({}))).toEqual(DEFAULT_DOCTOR_THRESHOLDS);
    expect(doctorThresholds(input({ 'lease-grace': '5', 'max-horizon-age': '0' }))).toEqual({
      leaseGraceSeconds: 5,
      maxHorizonAgeSeconds: 0,
    });
    expect(() => doctorThresholds(input({ 'lease-grace': '-1' }))).toThrow(QueueValidationError);
    expect(() => doctorThresholds(input({ 'max-horizon-age': '1.5' }))).toThrow(
      'Invalid --max-horizon-age: must be a whole number of seconds from 0 to',
    );
  });

  it('prints one line per finding, its action below, and the counts', () => {
    const findings = diagnose(
      facts({ expiredLeases: { count: 1, oldestExpiredSeconds: 90, queues: ['jobs'] } }),
    );
    const lines = doctorLines('app.messages on postgres://u:***@h/db', findings);
    expect(lines[0]).toBe('Checking app.messages on postgres://u:***@h/db');
    expect(lines).toContain(
      '  PROBLEM  leases      1 lease expired and not reaped, the oldest 90 s ago (queues: jobs)',
    );
    expect(lines[lines.indexOf(lines.find((l) => l.includes('PROBLEM'))!) + 1]).toMatch(
      /^ {23}-> no reaper returns them/,
    );
    expect(lines.at(-1)).toBe('1 problem, 0 warnings');
    expect(doctorLines('x', diagnose(facts())).at(-1)).toBe('No problems found');
    expect(doctorJson('app.messages', findings)).toMatchObject({
      table: 'app.messages',
      problems: 1,
      warnings: 0,
    });
  });
});

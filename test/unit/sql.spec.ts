import { describe, expect, it } from '@jest/globals';
import { QueueOptionsError, queueTableNames } from '../../src/index.js';
import { enqueueManySql, enqueueSql } from '../../src/sql/enqueue.sql.js';
import { UNIQUE_ACTIVE_PREDICATE, UNIQUE_WINDOW_PREDICATE } from '../../src/sql/unique.sql.js';
import { flowLeaseSql, flowLockSql, groupsPerLease } from '../../src/sql/flow-lease.sql.js';
import { blockedGroupsSql, releaseGroupSql } from '../../src/sql/groups.sql.js';
import { idleLeaseSql, leaseSql } from '../../src/sql/lease.sql.js';
import {
  clearQueueSql,
  deleteMessageSql,
  listFailedSql,
  retryFailedSql,
} from '../../src/sql/operator.sql.js';
import { reapExpiredLeasesSql } from '../../src/sql/reap.sql.js';
import { statsSql } from '../../src/sql/stats.sql.js';
import {
  ackBatchSql,
  ackManySql,
  ackSql,
  failSql,
  heartbeatManySql,
  moveToDeadLetterQueueSql,
  requeueSql,
} from '../../src/sql/settle.sql.js';
import { expectBoundStatement } from '../support/bound-statement.js';

const names = queueTableNames('tenant_a', 'jobs');
const hostile = "x'); DROP TABLE jobs; --";
const token = '00000000-0000-4000-8000-000000000000';
const lease = { queue: hostile, id: hostile, leaseToken: token };

describe('queueTableNames', () => {
  it('quotes once and derives the seed-style index names', () => {
    expect(names.qualified).toBe('"tenant_a"."jobs"');
    expect(names.qualifiedMigrations).toBe('"tenant_a"."jobs_migrations"');
    expect(names.indexes).toEqual({
      queueAvailable: '"idx_jobs_queue_avail"',
      state: '"idx_jobs_state"',
      stateNarrow: '"idx_jobs_state_narrow"',
      lease: '"idx_jobs_lease"',
      origin: '"idx_jobs_origin"',
      archivedAt: '"idx_jobs_archive_at"',
      priority: '"idx_jobs_priority"',
      unique: '"idx_jobs_unique"',
      uniqueWindow: '"idx_jobs_unique_window"',
      group: '"idx_jobs_group"',
      rate: '"idx_jobs_rate"',
      groupRate: '"idx_jobs_group_rate"',
      parent: '"idx_jobs_parent"',
      schedulesNext: '"idx_jobs_schedules_next"',
    });
    expect(names.functions.messageEnded).toBe('"tenant_a"."jobs_message_ended"');
    expect(names.finishedChannel).toMatch(/^queue_fin_[0-9a-f]{32}$/);
    const seed = queueTableNames('public', 'messages');
    expect(seed.indexes.queueAvailable).toBe('"idx_messages_queue_avail"');
  });

  it.each(['Jobs', 'jobs"', 'jobs; drop', '1jobs', 'jobs-x', 'jöbs', ''])(
    'refuses %p as an identifier',
    (table) => {
      expect(() => queueTableNames('public', table)).toThrow(QueueOptionsError);
    },
  );
});

const activeKey = { unique: { key: hostile, rule: { scope: 'active' } } } as const;
const windowKey = {
  unique: { key: hostile, rule: { scope: 'window', windowSeconds: 60 } },
} as const;

const turn = { after: hostile, ungroupedFirst: false };
const rate = (scope: 'queue' | 'group') => ({ max: 10, perSeconds: 1, scope });

describe('statement builders', () => {
  const statements = [
    enqueueSql(names, hostile, '{"a":1}', 0),
    enqueueManySql(names, hostile, '[{"a":1}]', 5),
    enqueueSql(names, hostile, '{}', 0, { priority: 3, groupKey: hostile }),
    enqueueSql(names, hostile, '{}', 0, activeKey),
    enqueueSql(names, hostile, '{}', 5, windowKey),
    enqueueManySql(names, hostile, '[{}]', 0, { priority: [1, null], groupKey: hostile }),
    enqueueManySql(names, hostile, '[{}]', 0, {
      priority: 2,
      unique: { key: [hostile, null], rule: { scope: 'active_or_failed' } },
      groupKey: [null, hostile],
    }),
    enqueueManySql(names, hostile, '[{}]', 5, {
      unique: { key: hostile, rule: { scope: 'window', windowSeconds: 60 } },
    }),
    leaseSql(names, hostile, 10, 60, {}, 1024),
    leaseSql(names, hostile, 10, 60, {}, 1024, { availableAt: '1', seq: '2' }),
    idleLeaseSql(names, hostile, 10, 16, 60, {}, 1024, { availableAt: '1', seq: '2' }),
    flowLeaseSql(names, hostile, 4, 60, {}, { globalConcurrency: 5 }, turn),
    flowLeaseSql(names, hostile, 4, 60, { maxAttempts: 3 }, { rateLimit: rate('queue') }, turn),
    flowLeaseSql(names, hostile, 4, 60, {}, { rateLimit: rate('group') }, turn),
    flowLeaseSql(names, hostile, 4, 60, {}, { groupConcurrency: 1 }, turn),
    flowLeaseSql(
      names,
      hostile,
      4,
      60,
      {},
      { groupConcurrency: 3 },
      { ...turn, ungroupedFirst: true },
    ),
    flowLeaseSql(
      names,
      hostile,
      4,
      60,
      { deadLetterQueue: hostile },
      { globalConcurrency: 9, groupConcurrency: 2, rateLimit: rate('group') },
      turn,
    ),
    flowLeaseSql(
      names,
      hostile,
      4,
      60,
      {},
      { globalConcurrency: 9, groupConcurrency: 1, rateLimit: rate('queue') },
      turn,
    ),
    blockedGroupsSql(names, hostile, 10),
    releaseGroupSql(names, hostile, hostile),
    ackSql(names, lease),
    requeueSql(names, lease, 3),
    requeueSql(names, lease, 0, { errorJson: '{}', refundAttempt: true }),
    heartbeatManySql(names, hostile, [lease], 30),
    failSql(names, lease, '{}'),
    moveToDeadLetterQueueSql(names, lease, '{}', hostile),
    reapExpiredLeasesSql(names, 100),
    statsSql(names),
    statsSql(names, hostile),
    listFailedSql(names, hostile, 10),
    retryFailedSql(names, hostile, undefined),
    retryFailedSql(names, hostile, ['a', 'b']),
    clearQueueSql(names, hostile, 'done'),
    clearQueueSql(names, hostile, undefined),
    deleteMessageSql(names, hostile),
  ];

  it.each(statements.map((statement, index) => [index, statement] as const))(
    'statement %i interpolates only the quoted table and binds every value',
    (_index, statement) => {
      expectBoundStatement(statement, hostile, /"tenant_a"\."jobs"/);
    },
  );

  it('visits at least 64 groups per lease, four per message wanted, at most 1,000', () => {
    expect([1, 16, 100, 1_000].map(groupsPerLease)).toEqual([64, 64, 400, 1_000]);
  });

  it('takes the flow lock by a key bound as a value, per table and queue', () => {
    const lock = flowLockSql(names, hostile);
    expect(lock.text).toBe('SELECT pg_advisory_xact_lock($1::integer, hashtext($2::text))');
    expect(lock.values).toEqual([expect.any(Number), `tenant_a.jobs:${hostile}`]);
  });

  it('stamps leased_at only for rate-limited leases, and walks groups only when it must', () => {
    const plain = flowLeaseSql(names, 'q', 4, 60, {}, { globalConcurrency: 5 }, turn).text;
    expect(plain).not.toContain('leased_at = statement_timestamp()');
    expect(plain).not.toContain('walk');
    const rated = flowLeaseSql(names, 'q', 4, 60, {}, { rateLimit: rate('queue') }, turn).text;
    expect(rated).toContain('leased_at = statement_timestamp()');
    expect(rated).not.toContain('walk');
    expect(flowLeaseSql(names, 'q', 4, 60, {}, { rateLimit: rate('group') }, turn).text).toContain(
      'walk',
    );
    // A group of limit 1 is held back by any first row that is not ready (a dead letter, a
    // leased message); one of limit 2 passes its dead letters over.
    const strict = flowLeaseSql(names, 'q', 4, 60, {}, { groupConcurrency: 1 }, turn).text;
    expect(strict).not.toContain("m.state <> 'failed'");
    expect(strict).toMatch(/ORDER BY m\.state, m\.seq\s+LIMIT 1\b/);
    const loose = flowLeaseSql(names, 'q', 4, 60, {}, { groupConcurrency: 2 }, turn).text;
    expect(loose).toContain("m.state <> 'failed'");
  });

  it('leases through a MATERIALIZED CTE with FOR UPDATE SKIP LOCKED and the database clock', () => {
    const { text } = leaseSql(names, 'q', 5, 30, {}, 1024);
    expect(text).toMatch(/WITH next AS MATERIALIZED \(/);
    expect(text).toMatch(/FOR UPDATE SKIP LOCKED/);
    expect(text).toMatch(/ORDER BY available_at, seq/);
    expect(text).toMatch(/extract\(epoch from now\(\)\)/);
  });

  it("writes the idle lease's scan limit into its text and binds only the taken limit", () => {
    const idle = idleLeaseSql(names, 'q', 3, 16, 30, {}, 1024);
    expect(idle.text.match(/LIMIT 16\b/g)).toHaveLength(3);
    expect(idle.text.match(/LIMIT \$2::integer/g)).toHaveLength(1);
    expect(idle.values[1]).toBe(3);
    // Prepared like the single-row statements, where leaseSql is planned for its values.
    expect(idle.planEachTime).toBeUndefined();
    expect(leaseSql(names, 'q', 3, 30, {}, 1024).planEachTime).toBe(true);
  });

  it('fences ack and nack on state and lease token', () => {
    const mine = { queue: 'q', id: 'id', leaseToken: token };
    for (const { text } of [ackSql(names, mine), requeueSql(names, mine, 0)]) {
      expect(text).toMatch(/state = 'leased' AND lease_token = \$3::uuid/);
    }
    for (const { text } of [
      ackManySql(names, 'q', [mine]),
      ackBatchSql(names, 'q', [mine]),
      heartbeatManySql(names, 'q', [mine], 5),
    ]) {
      expect(text).toMatch(/m\.lease_token = ANY \(\$3::uuid\[\]\)/);
      expect(text).toMatch(/m\.state IS NOT DISTINCT FROM 'leased'/);
    }
  });
});

describe('enqueue with flow control', () => {
  const plainOne = enqueueSql(names, 'q', '{}', 0);
  const plainMany = enqueueManySql(names, 'q', '[{}]', 0);

  it('keeps the hot path’s statements when no option is used (priority 0 is the default)', () => {
    expect(enqueueSql(names, 'q', '{}', 0, {})).toEqual(plainOne);
    expect(enqueueSql(names, 'q', '{}', 0, { priority: 0 })).toEqual(plainOne);
    expect(plainOne.text)
      .toBe(`INSERT INTO "tenant_a"."jobs" (queue, body, available_at, created_at)
VALUES ($1::text, $2::jsonb, (CASE WHEN $3::integer = 0 THEN floor(extract(epoch from now()))::bigint ELSE ceil(extract(epoch from now()) + $3::integer)::bigint END), floor(extract(epoch from now()))::bigint)
RETURNING id, pg_notify($4::text, $1::text)`);
    expect(enqueueManySql(names, 'q', '[{}]', 0, {})).toEqual(plainMany);
    expect(plainMany.text).not.toMatch(/priority|unique|group_key|ON CONFLICT/);
  });

  it('inserts a keyed message with ON CONFLICT DO NOTHING and finds the holder by the index’s predicate', () => {
    for (const { text } of [
      enqueueSql(names, 'q', '{}', 0, activeKey),
      enqueueManySql(names, 'q', '[{}]', 0, { unique: activeKey.unique }),
    ]) {
      expect(text).toContain('ON CONFLICT DO NOTHING');
      expect(text).toContain(UNIQUE_ACTIVE_PREDICATE);
      expect(text).not.toContain(UNIQUE_WINDOW_PREDICATE);
    }
    for (const { text } of [
      enqueueSql(names, 'q', '{}', 0, windowKey),
      enqueueManySql(names, 'q', '[{}]', 0, { unique: windowKey.unique }),
    ]) {
      expect(text).toContain(UNIQUE_WINDOW_PREDICATE);
      expect(text).toMatch(
        /floor\(extract\(epoch from now\(\)\) \/ \$\d+::integer\)::bigint \* \$\d+::integer/,
      );
    }
  });

  it('binds a per-message option as an array and a batch-wide one as a scalar', () => {
    const each = enqueueManySql(names, 'q', '[{}, {}]', 0, { priority: [5, null] });
    expect(each.values).toContainEqual([5, null]);
    // Unnested beside the bodies: a subscript per message would read the array each time.
    expect(each.text).toMatch(
      /ROWS FROM \(jsonb_array_elements\(\$2::jsonb\), unnest\(\$\d+::integer\[\]\)\)/,
    );
    expect(each.text).not.toMatch(/\[e\.ord/);
    const all = enqueueManySql(names, 'q', '[{}, {}]', 0, { priority: 5 });
    expect(all.values).toContain(5);
    expect(all.text).not.toContain('[]');
  });

  it('wakes workers only for messages due now', () => {
    expect(enqueueSql(names, 'q', '{}', 0, activeKey).text).toContain('pg_notify');
    expect(enqueueSql(names, 'q', '{}', 5, activeKey).text).not.toContain('pg_notify');
    const batch = { unique: activeKey.unique };
    expect(enqueueManySql(names, 'q', '[{}]', 0, batch).text).toContain('pg_notify');
    expect(enqueueManySql(names, 'q', '[{}]', 5, batch).text).not.toContain('pg_notify');
  });

  it('retryFailed leaves a dead letter whose key is held, by the index’s predicates', () => {
    const { text } = retryFailedSql(names, 'q', undefined);
    expect(text).toContain(UNIQUE_ACTIVE_PREDICATE);
    expect(text).toContain(UNIQUE_WINDOW_PREDICATE);
    expect(text).toMatch(/AND NOT \(m\.unique_key IS NOT NULL/);
  });
});

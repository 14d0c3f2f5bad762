import { beforeAll, beforeEach, afterEach, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { queueTableNames } from '../../src/index.js';
import { idleLeaseSql, leaseSql } from '../../src/sql/lease.sql.js';
import { useQueueFixture } from '../support/queue-fixture.js';

// The migrations only: the statements are sent by hand here.
const fixture = useQueueFixture('idle_lease', { shared: { workers: false }, reset: 'none' });
const t = queueTableNames('public', 'messages');
let client: pg.Client;

/** The plan nodes of an EXPLAIN (FORMAT JSON), depth first. */
interface PlanNode {
  readonly 'Node Type': string;
  readonly 'Index Name'?: string;
  readonly 'Relation Name'?: string;
  readonly 'Actual Rows'?: number;
  readonly Plans?: PlanNode[];
}
function nodes(plan: PlanNode): PlanNode[] {
  return [plan, ...(plan.Plans ?? []).flatMap(nodes)];
}

beforeAll(async () => {
  // A backlog of 20,000 plain and 2,000 prioritised messages beside 20,000 done ones.
  await fixture.db.query(`INSERT INTO messages (queue, body, available_at, created_at, priority)
    SELECT 'idle', jsonb_build_object('i', g), 0, 0, CASE WHEN g % 11 = 0 THEN 1 + g % 3 ELSE 0 END
    FROM generate_series(1, 22000) AS g`);
  await fixture.db.query(`INSERT INTO messages (queue, body, available_at, created_at, state)
    SELECT 'idle', '{}', 0, 0, 'done' FROM generate_series(1, 20000)`);
  await fixture.db.query('ANALYZE messages');
});

// A session of its own per test, for the prepared statement and the plan setting; ended before
// the fixture drops the database.
beforeEach(async () => {
  client = new pg.Client({ connectionString: fixture.db.url });
  await client.connect();
});

afterEach(async () => {
  await client.end();
});

describe('idleLeaseSql', () => {
  it('keeps its generic plan, the one a prepared statement settles on, to ordered index scans that stop at the scan limit', async () => {
    const statement = idleLeaseSql(t, 'idle', 4, 16, 60, {}, 1 << 20);
    expect(statement.planEachTime).toBeUndefined();
    await client.query(
      `PREPARE idle_lease(text, integer, integer, integer, text, bigint) AS ${statement.text}`,
    );
    await client.query('SET plan_cache_mode = force_generic_plan');
    await client.query('BEGIN');
    try {
      const { rows } = await client.query<{ 'QUERY PLAN': [{ Plan: PlanNode }] }>(
        `EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE idle_lease('idle', 4, 60, NULL, NULL, ${1 << 20})`,
      );
      const all = nodes(rows[0]!['QUERY PLAN'][0].Plan);
      const scans = all.filter((node) => node['Relation Name'] === 'messages');
      // Each branch walks its partial index in lease order, and the update finds rows by ctid:
      // nothing reads the backlog, let alone the table.
      expect(scans.map((node) => node['Node Type']).sort()).toEqual([
        'Index Scan',
        'Index Scan',
        'ModifyTable',
        'Tid Scan',
      ]);
      expect(
        scans
          .filter((node) => node['Node Type'] === 'Index Scan')
          .map((n) => n['Index Name'])
          .sort(),
      ).toEqual(['idx_messages_priority', 'idx_messages_queue_avail']);
      for (const scan of scans.filter((node) => node['Node Type'] === 'Index Scan'))
        expect(scan['Actual Rows']).toBeLessThanOrEqual(16);
    } finally {
      await client.query('ROLLBACK');
      await client.query('RESET plan_cache_mode');
      await client.query('DEALLOCATE idle_lease');
    }
  });

  it('leases what leaseSql leases with that limit: the same messages, in the same order', async () => {
    const take = async (text: string, values: readonly unknown[]) => {
      await client.query('BEGIN');
      try {
        const { rows } = await client.query<{ id: string; state: string }>(text, [...values]);
        expect(rows.every((row) => row.state === 'leased')).toBe(true);
        return rows.map((row) => row.id);
      } finally {
        await client.query('ROLLBACK');
      }
    };
    for (const limit of [1, 4, 16]) {
      const idle = idleLeaseSql(t, 'idle', limit, 16, 60, {}, 1 << 20);
      const planned = leaseSql(t, 'idle', limit, 60, {}, 1 << 20);
      const ids = await take(idle.text, idle.values);
      expect(ids).toHaveLength(limit);
      expect(ids).toEqual(await take(planned.text, planned.values));
    }
  });

  it('refuses a limit above its scan limit, which it could never fill', () => {
    expect(() => idleLeaseSql(t, 'idle', 17, 16, 60, {}, 1024)).toThrow(RangeError);
    expect(() => idleLeaseSql(t, 'idle', 1, 0, 60, {}, 1024)).toThrow(RangeError);
  });
});

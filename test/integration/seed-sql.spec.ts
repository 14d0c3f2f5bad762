import { describe, expect, it } from '@jest/globals';
import { useQueueFixture } from '../support/queue-fixture.js';

/*
 * The seed's own SQL, pasted unchanged from its "Monitoring and Maintenance" section. The queue
 * table must keep the seed's columns and their meaning (epoch seconds) for these to keep working.
 */
const DEPTH_BY_QUEUE_AND_STATE = `
SELECT queue, state, COUNT(*) 
FROM messages 
GROUP BY queue, state;`;

const STUCK_MESSAGES = `
SELECT queue, COUNT(*) 
FROM messages 
WHERE state = 'leased' 
  AND lease_until < EXTRACT(EPOCH FROM NOW())::BIGINT
GROUP BY queue;`;

const DELETE_OLD_DONE = `
DELETE FROM messages 
WHERE state = 'done' 
  AND created_at < EXTRACT(EPOCH FROM NOW() - INTERVAL '7 days')::BIGINT;`;

const ARCHIVE_OLD_ERRORS = `
INSERT INTO messages_archive 
SELECT * FROM messages 
WHERE queue = 'ingest.error' 
  AND created_at < EXTRACT(EPOCH FROM NOW() - INTERVAL '30 days')::BIGINT;`;

const DELETE_OLD_ERRORS = `
DELETE FROM messages 
WHERE queue = 'ingest.error' 
  AND created_at < EXTRACT(EPOCH FROM NOW() - INTERVAL '30 days')::BIGINT;`;

const ctx = useQueueFixture('seed_sql', { shared: {}, reset: 'none' });

describe("the seed's schema", () => {
  it("keeps the seed's columns, types and nullability", async () => {
    const { rows } = await ctx.db.query(
      `SELECT column_name, data_type, is_nullable FROM information_schema.columns
       WHERE table_schema = 'public' AND table_name = 'messages' ORDER BY ordinal_position`,
    );
    expect(rows.slice(0, 8)).toEqual([
      { column_name: 'id', data_type: 'text', is_nullable: 'NO' },
      { column_name: 'queue', data_type: 'text', is_nullable: 'NO' },
      { column_name: 'body', data_type: 'jsonb', is_nullable: 'NO' },
      { column_name: 'available_at', data_type: 'bigint', is_nullable: 'NO' },
      { column_name: 'lease_until', data_type: 'bigint', is_nullable: 'YES' },
      { column_name: 'attempts', data_type: 'integer', is_nullable: 'NO' },
      { column_name: 'state', data_type: 'text', is_nullable: 'NO' },
      { column_name: 'created_at', data_type: 'bigint', is_nullable: 'NO' },
    ]);
  });

  it("has the seed's three indexes under the seed's names (and partial ones of its own)", async () => {
    const { rows } = await ctx.db.query<{ indexname: string; indexdef: string }>(
      "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'messages' AND indexname LIKE 'idx_%' ORDER BY 1",
    );
    const byName = new Map(rows.map((r) => [r.indexname, r.indexdef]));
    expect([...byName.keys()]).toEqual([
      'idx_messages_group',
      'idx_messages_group_rate',
      'idx_messages_lease',
      'idx_messages_origin',
      'idx_messages_parent',
      'idx_messages_priority',
      'idx_messages_queue_avail',
      'idx_messages_rate',
      'idx_messages_state',
      'idx_messages_unique',
      'idx_messages_unique_window',
    ]);
    expect(byName.get('idx_messages_queue_avail')).toMatch(
      /\(queue, available_at, seq\) WHERE \(state = 'ready'::text\)/,
    );
    expect(byName.get('idx_messages_lease')).toMatch(
      /\(lease_until\) WHERE \(state = 'leased'::text\)/,
    );
    // Every index of flow control is partial: a plain message never enters one.
    for (const name of ['group', 'group_rate', 'priority', 'rate', 'unique', 'unique_window']) {
      expect(byName.get(`idx_messages_${name}`)).toMatch(/ WHERE /);
    }
  });

  it('accepts a row inserted the way another producer (the seed backend) would', async () => {
    await ctx.db.query(
      `INSERT INTO messages (id, queue, body, available_at, created_at)
       VALUES ('python-1', 'ingest.main', '{"from": "python"}', EXTRACT(EPOCH FROM NOW())::BIGINT - 1, EXTRACT(EPOCH FROM NOW())::BIGINT)`,
    );
    const leased = await ctx.queue.leaseNext('ingest.main');
    expect(leased?.id).toBe('python-1');
    expect(await ctx.queue.ack('ingest.main', leased!)).toBe(true);
    await ctx.queue.deleteMessage('python-1');
  });
});

describe("the seed's monitoring SQL runs unchanged", () => {
  it('reports depth by queue and state', async () => {
    await ctx.queue.enqueueMany('ingest.main', [{ n: 1 }, { n: 2 }, { n: 3 }]);
    await ctx.queue.enqueue('ingest.error', { n: 4 });
    await ctx.queue.leaseNext('ingest.main');
    const { rows } = await ctx.db.query<{ queue: string; state: string; count: string }>(
      DEPTH_BY_QUEUE_AND_STATE,
    );
    const sorted = rows
      .map((r) => [r.queue, r.state, Number(r.count)])
      .sort(
        (a, b) =>
          String(a[0]).localeCompare(String(b[0])) || String(a[1]).localeCompare(String(b[1])),
      );
    expect(sorted).toEqual([
      ['ingest.error', 'ready', 1],
      ['ingest.main', 'leased', 1],
      ['ingest.main', 'ready', 2],
    ]);
  });

  it('finds messages stuck past their lease, which reapExpiredLeases then frees', async () => {
    await ctx.queue.leaseNext('ingest.main');
    expect((await ctx.db.query(STUCK_MESSAGES)).rows).toEqual([]);
    await ctx.db.query(
      "UPDATE messages SET lease_until = lease_until - 120 WHERE state = 'leased'",
    );
    const { rows } = await ctx.db.query<{ queue: string; count: string }>(STUCK_MESSAGES);
    expect(rows.map((r) => [r.queue, Number(r.count)])).toEqual([['ingest.main', 2]]);
    expect(await ctx.queue.reapExpiredLeases()).toBe(2);
    expect((await ctx.db.query(STUCK_MESSAGES)).rows).toEqual([]);
  });

  it('deletes done messages older than 7 days and keeps the rest', async () => {
    await ctx.db.query('TRUNCATE messages');
    const [oldId, newId] = await ctx.queue.enqueueMany('ingest.main', [
      { age: 'old' },
      { age: 'new' },
    ]);
    for (const message of await ctx.queue.leaseMany('ingest.main', 2)) {
      await ctx.queue.ack('ingest.main', message);
    }
    await ctx.queue.enqueue('ingest.main', { age: 'old but ready' });
    await ctx.db.query('UPDATE messages SET created_at = created_at - 8 * 86400 WHERE id <> $1', [
      newId,
    ]);
    const result = await ctx.db.query(DELETE_OLD_DONE);
    expect(result.rowCount).toBe(1);
    const { rows } = await ctx.db.query<{ id: string }>('SELECT id FROM messages WHERE id = $1', [
      oldId,
    ]);
    expect(rows).toEqual([]);
    expect((await ctx.queue.getStats()).byState).toMatchObject({ done: 1, ready: 1 });
  });

  it('archives and deletes old error messages into messages_archive', async () => {
    await ctx.db.query('TRUNCATE messages');
    await ctx.queue.enqueueMany('ingest.error', [{ e: 'old' }, { e: 'recent' }]);
    await ctx.db.query(
      "UPDATE messages SET created_at = created_at - 31 * 86400 WHERE body->>'e' = 'old'",
    );
    expect((await ctx.db.query(ARCHIVE_OLD_ERRORS)).rowCount).toBe(1);
    expect((await ctx.db.query(DELETE_OLD_ERRORS)).rowCount).toBe(1);
    const { rows } = await ctx.db.query('SELECT body FROM messages_archive');
    expect(rows).toEqual([{ body: { e: 'old' } }]);
    expect((await ctx.queue.getStats()).totalMessages).toBe(1);
  });
});

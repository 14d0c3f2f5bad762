import { type ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it } from '@jest/globals';
import { Injectable } from '@nestjs/common';
import {
  MAX_FLOW_NODES,
  Processor,
  QueueValidationError,
  UnrecoverableError,
  type ChildFailure,
  type FlowChild,
  type FlowNode,
  type FlowTree,
  type ProcessorMessage,
} from '../../src/index.js';
import { DocumentFlows, DocumentProcessors, type PageText } from '../../examples/flows.js';
import { MessageStore } from '../../src/store/message-store.js';
import { waitFor } from '../support/boot.js';
import { startFlowWorkers, stopProcess, type FlowEvent } from '../support/flow-workers.js';
import { useQueueFixture } from '../support/queue-fixture.js';

// The shared app only enqueues and reads; each test boots the apps whose workers run its flow.
const fixture = useQueueFixture('flows', { shared: { workers: false } });
const { db } = fixture;

const processes: ChildProcess[] = [];
afterEach(async () => {
  await Promise.all(processes.splice(0).map(stopProcess));
});

interface Row {
  id: string;
  queue: string;
  state: string;
  parent_id: string | null;
  child_failure: string | null;
  attempts: number;
  last_error: { name: string; message: string; childId?: string } | null;
  origin_queue: string | null;
}

async function rowOf(id: string): Promise<Row> {
  const { rows } = await db.query<Row>(
    'SELECT id, queue, state, parent_id, child_failure, attempts, last_error, origin_queue FROM messages WHERE id = $1',
    [id],
  );
  return rows[0]!;
}

const stateOf = async (id: string) => (await rowOf(id)).state;

async function count(where = 'true', values: unknown[] = []): Promise<number> {
  const { rows } = await db.query<{ n: string }>(
    `SELECT count(*) AS n FROM messages WHERE ${where}`,
    values,
  );
  return Number(rows[0]!.n);
}

/** Every node of a tree, parents before their children. */
function nodesOf(tree: FlowTree): FlowTree[] {
  return [tree, ...tree.children.flatMap(nodesOf)];
}

/** A handler's record: when it began and ended, on one clock shared by every handler. */
interface Run {
  readonly id: string;
  readonly started: number;
  ended?: number;
  children?: FlowChild[];
}

/** Records every handler run, and lets a parent read its children as it starts. */
class Runs {
  readonly all: Run[] = [];
  private tick = 0;

  async run(message: ProcessorMessage, work?: () => Promise<void>): Promise<{ id: string }> {
    const run: Run = { id: message.id, started: ++this.tick };
    this.all.push(run);
    run.children = await message.children();
    await (work ?? (() => new Promise((resolve) => setImmediate(resolve))))();
    run.ended = ++this.tick;
    return { id: message.id };
  }

  of(id: string): Run[] {
    return this.all.filter((run) => run.id === id);
  }
}

describe('QueueService.enqueueFlow', () => {
  it('inserts a whole tree at once: parents wait for their children, leaves are ready', async () => {
    const tree = await fixture.queue.enqueueFlow({
      queue: 'shape.root',
      body: { report: 'monthly' },
      options: { priority: 3, onChildFailure: 'ignore' },
      children: [
        {
          queue: 'shape.mid',
          body: { part: 1 },
          children: [
            { queue: 'shape.leaf', body: 'a', options: { groupKey: 'g1' } },
            { queue: 'shape.other', body: 'b', options: { delaySeconds: 60 } },
          ],
        },
        { queue: 'shape.leaf', body: 'c' },
      ],
    });
    expect(tree).toMatchObject({
      queue: 'shape.root',
      children: [
        {
          queue: 'shape.mid',
          children: [
            { queue: 'shape.leaf', children: [] },
            { queue: 'shape.other', children: [] },
          ],
        },
        { queue: 'shape.leaf', children: [] },
      ],
    });
    const [root, mid, a, b, c] = nodesOf(tree);
    const { rows } = await db.query<
      Row & { body: unknown; priority: number; group_key: string | null; due: boolean }
    >(
      `SELECT id, queue, state, parent_id, child_failure, body, priority, group_key,
         available_at <= floor(extract(epoch from now())) AS due
       FROM messages ORDER BY seq`,
    );
    expect(rows).toEqual([
      expect.objectContaining({ id: root!.id, state: 'waiting_children', parent_id: null }),
      expect.objectContaining({ id: mid!.id, state: 'waiting_children', parent_id: root!.id }),
      expect.objectContaining({ id: a!.id, state: 'ready', parent_id: mid!.id, due: true }),
      expect.objectContaining({ id: b!.id, state: 'ready', parent_id: mid!.id, due: false }),
      expect.objectContaining({ id: c!.id, state: 'ready', parent_id: root!.id, due: true }),
    ]);
    expect(rows.map((row) => row.child_failure)).toEqual(['ignore', 'fail', null, null, null]);
    expect(rows[0]).toMatchObject({ body: { report: 'monthly' }, priority: 3 });
    expect(rows[2]).toMatchObject({ body: 'a', group_key: 'g1' });

    const stats = await fixture.queue.getStats();
    expect(stats.byState).toMatchObject({ waiting_children: 2, ready: 3 });
    expect(stats.ready).toEqual({ due: 2, delayed: 1 });
    // Nothing leases a waiting parent, and the health depth does not count it as a backlog.
    expect(await fixture.queue.leaseNext('shape.root')).toBeNull();
    const depths = await fixture.app.get(MessageStore).depths(1_000);
    expect(depths['shape.root']).toBeUndefined();
    expect(depths['shape.leaf']).toMatchObject({ ready: 2 });
    expect(await fixture.queue.getChildren(root!.id)).toEqual([
      {
        id: mid!.id,
        queue: 'shape.mid',
        state: 'waiting_children',
        result: null,
        lastError: null,
        originQueue: null,
      },
      {
        id: c!.id,
        queue: 'shape.leaf',
        state: 'ready',
        result: null,
        lastError: null,
        originQueue: null,
      },
    ]);
    expect(await fixture.queue.getChildren(a!.id)).toEqual([]);
  });

  it('checks everything first and writes nothing when any node is wrong', async () => {
    const bad: Array<[unknown, string]> = [
      [{ queue: 'v', body: 1, children: [{ queue: 'v', body: 1n }] }, 'children[0].body'],
      [
        {
          queue: 'v',
          body: 1,
          children: [
            { queue: 'v', body: 1 },
            { queue: 'v', body: 1, children: [{ queue: '', body: 1 }] },
          ],
        },
        'children[1].children[0].queue',
      ],
      [
        { queue: 'v', body: 1, children: [{ queue: 'v', body: 1, options: { uniqueKey: 'k' } }] },
        'children[0].options.uniqueKey',
      ],
      [
        { queue: 'v', body: 1, children: [{ queue: 'v', body: 'x'.repeat(2_000) }] },
        'children[0].body',
      ],
      [
        {
          queue: 'v',
          body: 1,
          children: Array.from({ length: MAX_FLOW_NODES }, () => ({ queue: 'v', body: 1 })),
        },
        'children',
      ],
    ];
    const small = await fixture.boot({
      connectionString: db.url,
      workers: false,
      maxBodyBytes: 1_000,
    });
    for (const [flow, field] of bad) {
      const error = await small.queue
        .enqueueFlow(flow as FlowNode)
        .catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(QueueValidationError);
      expect((error as QueueValidationError).field).toBe(field);
    }
    expect(await count()).toBe(0);
  });

  it('writes nothing when the statement fails midway', async () => {
    // A check the last row breaks: the insert fails after the first rows went in.
    const flow: FlowNode = {
      queue: 'atomic',
      body: 1,
      children: [
        { queue: 'atomic', body: 2 },
        { queue: 'atomic', body: 3 },
      ],
    };
    const tree = await fixture.queue.enqueueFlow(flow);
    await db.query(
      `ALTER TABLE messages ADD CONSTRAINT no_three CHECK (body <> '3'::jsonb) NOT VALID`,
    );
    try {
      await expect(fixture.queue.enqueueFlow(flow)).rejects.toMatchObject({ code: '23514' });
    } finally {
      await db.query('ALTER TABLE messages DROP CONSTRAINT no_three');
    }
    expect(await count()).toBe(3);
    expect(await count('id = ANY ($1)', [nodesOf(tree).map((node) => node.id)])).toBe(3);
  });
});

describe('a flow run by workers', () => {
  it('runs 3 levels and 100 leaves on several queues: each parent once, after all its descendants, reading its children', async () => {
    const runs = new Runs();
    @Injectable()
    class Handlers {
      @Processor('big.root', { concurrency: 2 })
      root(message: ProcessorMessage) {
        return runs.run(message);
      }
      @Processor('big.mid', { concurrency: 4 })
      mid(message: ProcessorMessage) {
        return runs.run(message);
      }
      @Processor('big.leaf', { concurrency: 8 })
      leaf(message: ProcessorMessage) {
        return runs.run(message);
      }
      @Processor('big.leaf.other', { concurrency: 8 })
      otherLeaf(message: ProcessorMessage) {
        return runs.run(message, () => new Promise((resolve) => setTimeout(resolve, 2)));
      }
    }
    // Two apps: the handlers of one queue run in both, as on two replicas.
    await fixture.boot({ connectionString: db.url }, [Handlers]);
    await fixture.boot({ connectionString: db.url }, [Handlers]);

    const tree = await fixture.queue.enqueueFlow({
      queue: 'big.root',
      body: { level: 1 },
      children: Array.from({ length: 10 }, (_, m) => ({
        queue: 'big.mid',
        body: { level: 2, m },
        children: Array.from({ length: 10 }, (_, l) => ({
          queue: l % 3 === 0 ? 'big.leaf.other' : 'big.leaf',
          body: { level: 3, m, l },
        })),
      })),
    });
    const nodes = nodesOf(tree);
    expect(nodes).toHaveLength(111);
    await waitFor(async () => (await stateOf(tree.id)) === 'done', 60_000, 'the root to be done');

    expect(await count("state <> 'done'")).toBe(0);
    for (const node of nodes) expect(runs.of(node.id)).toHaveLength(1);
    const endedLast = (node: FlowTree): number =>
      Math.max(runs.of(node.id)[0]!.ended!, ...node.children.map(endedLast));
    for (const parent of nodes.filter((node) => node.children.length > 0)) {
      const run = runs.of(parent.id)[0]!;
      for (const child of parent.children) expect(run.started).toBeGreaterThan(endedLast(child));
      // The parent read its children, in the flow's order, every one done.
      expect(run.children!.map((child) => child.id)).toEqual(parent.children.map((c) => c.id));
      expect(run.children!.every((child) => child.state === 'done')).toBe(true);
      // Results are recorded at the ack only where the package records them; when it does, each
      // child's is what its handler returned.
      for (const child of run.children!) {
        if (child.result !== null) expect(child.result).toEqual({ id: child.id });
      }
    }
    expect((await rowOf(tree.id)).attempts).toBe(1);
  });

  it('reads what its children stored in the result column', async () => {
    const tree = await fixture.queue.enqueueFlow({
      queue: 'results.parent',
      body: {},
      children: [
        { queue: 'results.child', body: 1 },
        { queue: 'results.child', body: 2 },
      ],
    });
    const leased = await fixture.queue.leaseMany('results.child', 10);
    expect(leased).toHaveLength(2);
    // Set by SQL here: what a handler returns is written to `result` at its ack.
    for (const message of leased) {
      await db.query('UPDATE messages SET result = $2::jsonb WHERE id = $1', [
        message.id,
        JSON.stringify({ doubled: (message.body as number) * 2 }),
      ]);
    }
    expect(await fixture.queue.ackMany('results.child', leased)).toHaveLength(2);
    expect(await stateOf(tree.id)).toBe('ready');
    const parent = await fixture.queue.leaseNext('results.parent');
    expect(parent?.id).toBe(tree.id);
    const children = await fixture.queue.getChildren<{ doubled: number }>(tree.id);
    expect(children.map((child) => [child.id, child.state, child.result])).toEqual([
      [tree.children[0]!.id, 'done', { doubled: 2 }],
      [tree.children[1]!.id, 'done', { doubled: 4 }],
    ]);
  });
});

describe('a failing child', () => {
  /** A flow of a parent, one child that throws UnrecoverableError and one that succeeds. */
  async function runFailing(
    label: string,
    policy: ChildFailure | undefined,
    deadLetterQueue?: string,
  ): Promise<{ tree: FlowTree; runs: Runs; bad: string; good: string }> {
    const runs = new Runs();
    @Injectable()
    class Handlers {
      @Processor(`${label}.parent`)
      parent(message: ProcessorMessage) {
        return runs.run(message);
      }
      @Processor(`${label}.child`, {
        concurrency: 2,
        ...(deadLetterQueue === undefined ? {} : { deadLetterQueue }),
      })
      child(message: ProcessorMessage<{ fail: boolean }>) {
        return runs.run(message, async () => {
          if (message.body.fail) throw new UnrecoverableError('this child can never succeed');
          await new Promise((resolve) => setTimeout(resolve, 50));
        });
      }
    }
    await fixture.boot({ connectionString: db.url }, [Handlers]);
    const tree = await fixture.queue.enqueueFlow({
      queue: `${label}.parent`,
      body: {},
      ...(policy === undefined ? {} : { options: { onChildFailure: policy } }),
      children: [
        { queue: `${label}.child`, body: { fail: true } },
        { queue: `${label}.child`, body: { fail: false } },
      ],
    });
    const [bad, good] = tree.children.map((child) => child.id) as [string, string];
    // The good child ends in every case: a failing sibling does not stop it.
    await waitFor(async () => (await stateOf(good)) === 'done', 20_000, 'the good child');
    return { tree, runs, bad, good };
  }

  it("fails its parent by default ('fail'): a ChildFailedError naming the child; it runs only when retried", async () => {
    const { tree, runs, bad } = await runFailing('fail', undefined);
    await waitFor(async () => (await stateOf(tree.id)) === 'failed', 20_000, 'the parent');
    const parent = await rowOf(tree.id);
    expect(parent.last_error).toMatchObject({ name: 'ChildFailedError', childId: bad });
    expect(parent.last_error!.message).toContain(bad);
    expect(parent.last_error!.message).toContain('fail.child');
    expect(await stateOf(bad)).toBe('failed');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(runs.of(tree.id)).toHaveLength(0);
    // listFailed shows the parent beside its child; retryFailed runs it with its children as
    // they are.
    expect((await fixture.queue.listFailed('fail.parent')).map((m) => m.id)).toEqual([tree.id]);
    expect(await fixture.queue.retryFailed('fail.parent')).toBe(1);
    await waitFor(async () => (await stateOf(tree.id)) === 'done', 20_000, 'the retried parent');
    expect(runs.of(tree.id)[0]!.children!.map((child) => child.state)).toEqual(['failed', 'done']);
  });

  it("cancels its parent with 'cancel'", async () => {
    const { tree, runs } = await runFailing('cancelp', 'cancel');
    await waitFor(async () => (await stateOf(tree.id)) === 'cancelled', 20_000, 'the parent');
    expect((await rowOf(tree.id)).last_error).toBeNull();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(runs.of(tree.id)).toHaveLength(0);
  });

  it("lets its parent run with 'ignore': the parent sees the dead letter", async () => {
    const { tree, runs, bad, good } = await runFailing('ignore', 'ignore');
    await waitFor(async () => (await stateOf(tree.id)) === 'done', 20_000, 'the parent');
    const [run] = runs.of(tree.id);
    expect(runs.of(tree.id)).toHaveLength(1);
    expect(run!.children).toEqual([
      expect.objectContaining({
        id: bad,
        state: 'failed',
        lastError: expect.objectContaining({ name: 'UnrecoverableError' }),
      }),
      expect.objectContaining({ id: good, state: 'done', lastError: null }),
    ]);
  });

  it("with 'ignore', a child moved to its dead-letter queue is seen there by its parent", async () => {
    const { tree, runs, bad } = await runFailing('moved', 'ignore', 'moved.dlq');
    await waitFor(async () => (await stateOf(tree.id)) === 'done', 20_000, 'the parent');
    const child = runs.of(tree.id)[0]!.children!.find((each) => each.id === bad);
    expect(child).toMatchObject({
      queue: 'moved.dlq',
      state: 'ready',
      originQueue: 'moved.child',
      lastError: expect.objectContaining({ name: 'UnrecoverableError' }),
    });
  });

  it("with 'fail', a child moved to its dead-letter queue fails its parent", async () => {
    const { tree, bad } = await runFailing('movedfail', 'fail', 'movedfail.dlq');
    await waitFor(async () => (await stateOf(tree.id)) === 'failed', 20_000, 'the parent');
    expect((await rowOf(tree.id)).last_error).toMatchObject({
      name: 'ChildFailedError',
      childId: bad,
      message: expect.stringContaining('moved to its dead-letter queue movedfail.dlq'),
    });
  });

  it('fails every ancestor up the tree when each one fails on a failed child', async () => {
    const tree = await fixture.queue.enqueueFlow({
      queue: 'chain',
      body: 0,
      children: [
        {
          queue: 'chain',
          body: 1,
          children: [
            { queue: 'chain.leaf', body: 2 },
            { queue: 'chain.leaf', body: 3 },
          ],
        },
      ],
    });
    const [leaf] = await fixture.queue.leaseMany('chain.leaf', 1);
    await db.query(`UPDATE messages SET state = 'failed' WHERE id = $1`, [leaf!.id]);
    const [root, mid] = nodesOf(tree);
    expect(await rowOf(mid!.id)).toMatchObject({
      state: 'failed',
      last_error: expect.objectContaining({ childId: leaf!.id }),
    });
    expect(await rowOf(root!.id)).toMatchObject({
      state: 'failed',
      last_error: expect.objectContaining({ childId: mid!.id }),
    });
  });
});

describe('many children ending at once', () => {
  it('100 children acked together by many workers release their parent exactly once', async () => {
    let release: () => void = () => undefined;
    const together = new Promise<void>((resolve) => (release = resolve));
    let started = 0;
    const parentRuns: string[] = [];
    @Injectable()
    class Handlers {
      @Processor('race.child', { concurrency: 25, prefetch: 0 })
      async child(): Promise<void> {
        started += 1;
        if (started === 100) release();
        await together;
      }
      @Processor('race.parent', { concurrency: 4 })
      parent(message: ProcessorMessage): void {
        parentRuns.push(message.id);
      }
    }
    for (let app = 0; app < 4; app++) await fixture.boot({ connectionString: db.url }, [Handlers]);
    const tree = await fixture.queue.enqueueFlow({
      queue: 'race.parent',
      body: {},
      children: Array.from({ length: 100 }, (_, i) => ({ queue: 'race.child', body: i })),
    });
    await waitFor(async () => (await stateOf(tree.id)) === 'done', 30_000, 'the parent');
    expect(started).toBe(100);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(parentRuns).toEqual([tree.id]);
    expect(await rowOf(tree.id)).toMatchObject({ attempts: 1 });
  });

  it('concurrent acks on many connections release each of 20 parents once', async () => {
    const trees = [];
    for (let i = 0; i < 20; i++) {
      trees.push(
        await fixture.queue.enqueueFlow({
          queue: 'acks.parent',
          body: i,
          children: Array.from({ length: 100 }, (_, c) => ({ queue: 'acks.child', body: c })),
        }),
      );
    }
    // 2,000 children, acked one statement each from ten pool connections at once, in an order
    // that interleaves the parents.
    const leased = await fixture.queue.leaseMany('acks.child', 2_000);
    expect(leased).toHaveLength(2_000);
    const shuffled = leased.sort(() => Math.random() - 0.5);
    const results = await Promise.all(
      shuffled.map((message) => fixture.queue.ack('acks.child', message)),
    );
    expect(results.every(Boolean)).toBe(true);
    const { rows } = await db.query<{ state: string; n: string }>(
      `SELECT state, count(*) AS n FROM messages WHERE queue = 'acks.parent' GROUP BY state`,
    );
    expect(rows).toEqual([{ state: 'ready', n: '20' }]);
    const parents = await fixture.queue.leaseMany('acks.parent', 100);
    expect(parents.map((p) => p.id).sort()).toEqual(trees.map((t) => t.id).sort());
  });
});

describe('cancel', () => {
  it('cancels a waiting parent with its unfinished descendants, asking running ones to stop', async () => {
    const tree = await fixture.queue.enqueueFlow({
      queue: 'cx.root',
      body: 0,
      children: [
        {
          queue: 'cx.mid',
          body: 1,
          children: [
            { queue: 'cx.leaf', body: 'a' },
            { queue: 'cx.leaf', body: 'b' },
          ],
        },
        { queue: 'cx.leaf', body: 'c' },
        { queue: 'cx.done', body: 'd' },
      ],
    });
    const [root, mid, a, b, c, d] = nodesOf(tree);
    const running = await fixture.queue.leaseNext('cx.leaf');
    expect(running?.id).toBe(a!.id);
    const finished = await fixture.queue.leaseNext('cx.done');
    await fixture.queue.ack('cx.done', finished!);

    expect(await fixture.queue.cancel(root!.id)).toBe('cancelled');
    expect(await stateOf(root!.id)).toBe('cancelled');
    expect(await stateOf(mid!.id)).toBe('cancelled');
    expect(await stateOf(b!.id)).toBe('cancelled');
    expect(await stateOf(c!.id)).toBe('cancelled');
    expect(await stateOf(d!.id)).toBe('done');
    const { rows } = await db.query<{ state: string; requested: boolean }>(
      'SELECT state, cancel_requested_at IS NOT NULL AS requested FROM messages WHERE id = $1',
      [a!.id],
    );
    expect(rows[0]).toEqual({ state: 'leased', requested: true });
    // The running child settles cancelled when its worker hears (here: its nack by hand).
    await fixture.queue.nack('cx.leaf', running!);
    expect(await stateOf(a!.id)).toBe('cancelled');
    expect(await fixture.queue.cancel(root!.id)).toBe('finished');
  });

  it('a cancel racing the acks of its flow settles the whole flow, whichever locks first', async () => {
    const deadlocks = async () =>
      Number(
        (
          await db.query<{ n: string }>(
            'SELECT deadlocks AS n FROM pg_stat_database WHERE datname = current_database()',
          )
        ).rows[0]!.n,
      );
    const before = await deadlocks();
    for (let round = 0; round < 8; round++) {
      const tree = await fixture.queue.enqueueFlow({
        queue: 'cr.root',
        body: round,
        children: Array.from({ length: 4 }, () => ({
          queue: 'cr.mid',
          body: round,
          children: Array.from({ length: 25 }, () => ({ queue: 'cr.leaf', body: round })),
        })),
      });
      const leased = await fixture.queue.leaseMany('cr.leaf', 100);
      expect(leased).toHaveLength(100);
      // Four ackMany calls whose leaves each span every mid parent, beside the cancel.
      const batches = [0, 1, 2, 3].map((batch) => leased.filter((_, i) => i % 4 === batch));
      const [cancelled, ...acked] = await Promise.all([
        new Promise((resolve) => setTimeout(resolve, round)).then(() =>
          fixture.queue.cancel(tree.id),
        ),
        ...batches.map((batch) => fixture.queue.ackMany('cr.leaf', batch)),
      ]);
      expect(cancelled).toBe('cancelled');
      // A leaf's ack wins over the cancel request its lease got.
      expect(acked.flat()).toHaveLength(100);
      const [root, ...mids] = [tree, ...tree.children];
      expect(await stateOf(root.id)).toBe('cancelled');
      for (const mid of mids) expect(await stateOf(mid.id)).toBe('cancelled');
      expect(await count("queue = 'cr.leaf' AND state = 'done' AND body = $1", [round])).toBe(100);
    }
    // Stats arrive late; this line only shows whether the retries were needed.
    process.stdout.write(
      `cancel racing acks: ${(await deadlocks()) - before} deadlock(s) retried\n`,
    );
  });

  it('cancelling a child applies its parent rule; a plain message is cancelled as before', async () => {
    const tree = await fixture.queue.enqueueFlow({
      queue: 'cc.parent',
      body: 0,
      options: { onChildFailure: 'ignore' },
      children: [
        { queue: 'cc.child', body: 1 },
        { queue: 'cc.child', body: 2 },
      ],
    });
    expect(await fixture.queue.cancel(tree.children[0]!.id)).toBe('cancelled');
    expect(await stateOf(tree.id)).toBe('waiting_children');
    expect(await fixture.queue.cancel(tree.children[1]!.id)).toBe('cancelled');
    expect(await stateOf(tree.id)).toBe('ready');
    const plain = await fixture.queue.enqueue('cc.plain', 1);
    expect(await fixture.queue.cancel(plain)).toBe('cancelled');
  });

  it('clearQueue takes the waiting_children state, and deleting a child releases its parent', async () => {
    const tree = await fixture.queue.enqueueFlow({
      queue: 'cl.parent',
      body: 0,
      children: [{ queue: 'cl.child', body: 1 }],
    });
    expect(await fixture.queue.clearQueue('cl.child')).toBe(1);
    expect(await stateOf(tree.id)).toBe('ready');
    await fixture.queue.enqueueFlow({
      queue: 'cl.parent',
      body: 0,
      children: [{ queue: 'cl.child', body: 1 }],
    });
    expect(await fixture.queue.clearQueue('cl.parent', 'waiting_children')).toBe(1);
    expect(await fixture.queue.clearQueue('cl.parent')).toBe(1);
  });
});

describe('restarts', () => {
  it('a flow stopped midway completes in a new app: its state is in the database only', async () => {
    const firstRuns = new Runs();
    const secondRuns = new Runs();
    let runs = firstRuns;
    @Injectable()
    class Handlers {
      @Processor('restart.parent')
      parent(message: ProcessorMessage) {
        return runs.run(message);
      }
      @Processor('restart.child', { concurrency: 2, prefetch: 0 })
      child(message: ProcessorMessage) {
        return runs.run(message, () => new Promise((resolve) => setTimeout(resolve, 40)));
      }
    }
    const first = await fixture.boot({ connectionString: db.url }, [Handlers]);
    const tree = await fixture.queue.enqueueFlow({
      queue: 'restart.parent',
      body: {},
      children: Array.from({ length: 30 }, (_, i) => ({ queue: 'restart.child', body: i })),
    });
    await waitFor(async () => (await count("state = 'done'")) >= 4, 20_000, 'some children');
    await first.close();
    const doneBefore = await count("queue = 'restart.child' AND state = 'done'");
    expect(doneBefore).toBeLessThan(30);
    expect(await stateOf(tree.id)).toBe('waiting_children');

    runs = secondRuns;
    await fixture.boot({ connectionString: db.url }, [Handlers]);
    await waitFor(async () => (await stateOf(tree.id)) === 'done', 30_000, 'the parent');
    expect(firstRuns.of(tree.id)).toHaveLength(0);
    expect(secondRuns.of(tree.id)).toHaveLength(1);
    expect(secondRuns.of(tree.id)[0]!.children!.every((child) => child.state === 'done')).toBe(
      true,
    );
    // Each child ran once across both apps (none was running when the first app stopped for good).
    const handled = [...firstRuns.all, ...secondRuns.all].map((run) => run.id);
    expect(new Set(handled).size).toBe(31);
    expect(handled).toHaveLength(31);
  });
});

describe('in several processes', () => {
  it('runs a flow across worker processes, one of them SIGKILLed midway: each parent once, after its children', async () => {
    // One process per queue for the parents, two for the leaves; the reaper of the surviving
    // leaf process takes back what the killed one held once its 2 s lease runs out.
    const [leaves, mids, roots] = await Promise.all([
      startFlowWorkers(
        db,
        processes,
        2,
        { concurrency: 4, leaseSeconds: 2, prefetch: 0 },
        'mp.leaf',
      ),
      startFlowWorkers(db, processes, 1, { concurrency: 2 }, 'mp.mid'),
      startFlowWorkers(db, processes, 1, {}, 'mp.root'),
    ]);
    const tree = await fixture.queue.enqueueFlow({
      queue: 'mp.root',
      body: {},
      children: Array.from({ length: 5 }, (_, m) => ({
        queue: 'mp.mid',
        body: {},
        children: Array.from({ length: 10 }, (_, l) => ({
          queue: 'mp.leaf',
          body: m === 2 && l === 3 ? { hang: true } : { ms: 20 },
        })),
      })),
    });
    const hung = tree.children[2]!.children[3]!.id;
    await waitFor(
      () => leaves.events.some((event) => event.kind === 'start' && event.id === hung),
      30_000,
      'the hanging leaf to start',
    );
    const holder = leaves.events.find((event) => event.kind === 'start' && event.id === hung)!;
    leaves.children[holder.worker]!.kill('SIGKILL');

    await waitFor(async () => (await stateOf(tree.id)) === 'done', 60_000, 'the root to be done');
    expect(await count("state <> 'done'")).toBe(0);
    const events: FlowEvent[] = [...leaves.events, ...mids.events, ...roots.events];
    const starts = (id: string) => events.filter((e) => e.kind === 'start' && e.id === id);
    const lastEnd = (node: FlowTree): number =>
      Math.max(
        ...events.filter((e) => e.kind === 'end' && e.id === node.id).map((e) => e.at),
        ...node.children.map(lastEnd),
      );
    expect(starts(hung).map((e) => e.attempt)).toEqual([1, 2]);
    for (const parent of nodesOf(tree).filter((node) => node.children.length > 0)) {
      expect(starts(parent.id)).toHaveLength(1);
      const startedAt = starts(parent.id)[0]!.at;
      for (const child of parent.children) expect(startedAt).toBeGreaterThanOrEqual(lastEnd(child));
    }
  });
});

describe('the README example', () => {
  it('ingests a document as a flow of pages and assembles it once every page is done', async () => {
    const app = await fixture.boot({ connectionString: db.url }, [
      DocumentFlows,
      DocumentProcessors,
    ]);
    const tree = await app.get(DocumentFlows).ingest('doc-1', 6);
    expect(tree.children).toHaveLength(6);
    await waitFor(async () => (await stateOf(tree.id)) === 'done', 20_000, 'the assembly');
    const pages = await fixture.queue.getChildren<PageText>(tree.id);
    expect(pages.map((page) => page.state)).toEqual(Array(6).fill('done'));
    pages.forEach((page, index) => {
      if (page.result !== null) expect(page.result).toMatchObject({ page: index });
    });
  });
});

import { describe, expect, it } from '@jest/globals';
import { flowIds } from '../../src/flow/flow-ids.js';
import { flattenFlow } from '../../src/flow/flow-tree.js';
import {
  MAX_FLOW_DEPTH,
  MAX_FLOW_NODES,
  QueueValidationError,
  type FlowNode,
} from '../../src/index.js';
import { thrownBy } from '../support/thrown-by.js';

const LIMIT = 1024;
const sequential = (count: number) => Array.from({ length: count }, (_, index) => `id${index}`);

function refusal(flow: unknown, maxBodyBytes = LIMIT): { field: string; rule: string } {
  const { field, rule } = thrownBy(
    () => flattenFlow(flow as FlowNode, maxBodyBytes, sequential),
    QueueValidationError,
  );
  return { field, rule };
}

describe('flattenFlow', () => {
  it('lays a tree out parents first, depth first, children in order', () => {
    const flat = flattenFlow(
      {
        queue: 'root',
        body: { n: 0 },
        options: { priority: 5 },
        children: [
          {
            queue: 'mid',
            body: 1,
            options: { onChildFailure: 'ignore', groupKey: 'g' },
            children: [
              { queue: 'leaf', body: 'a', options: { delaySeconds: 30 } },
              { queue: 'leaf', body: 'b' },
            ],
          },
          { queue: 'other', body: null, children: [] },
        ],
      },
      LIMIT,
      sequential,
    );
    expect(flat.ids).toEqual(['id0', 'id1', 'id2', 'id3', 'id4']);
    expect(flat.queues).toEqual(['root', 'mid', 'leaf', 'leaf', 'other']);
    expect(flat.bodies).toEqual(['{"n":0}', '1', '"a"', '"b"', 'null']);
    expect(flat.parentIds).toEqual([null, 'id0', 'id1', 'id1', 'id0']);
    expect(flat.waiting).toEqual([true, true, false, false, false]);
    expect(flat.delays).toEqual([0, 0, 30, 0, 0]);
    expect(flat.priorities).toEqual([5, 0, 0, 0, 0]);
    expect(flat.groupKeys).toEqual([null, 'g', null, null, null]);
    // Parents always carry their rule (the default is stored); leaves none.
    expect(flat.childFailures).toEqual(['fail', 'ignore', null, null, null]);
    expect(flat.tree).toEqual({
      id: 'id0',
      queue: 'root',
      children: [
        {
          id: 'id1',
          queue: 'mid',
          children: [
            { id: 'id2', queue: 'leaf', children: [] },
            { id: 'id3', queue: 'leaf', children: [] },
          ],
        },
        { id: 'id4', queue: 'other', children: [] },
      ],
    });
  });

  it('names the path of what it refuses', () => {
    const flow = (leaf: unknown): unknown => ({
      queue: 'root',
      body: {},
      children: [
        { queue: 'a', body: 1 },
        { queue: 'mid', body: 2, children: [leaf] },
      ],
    });
    expect(refusal(flow({ queue: ' bad', body: 1 })).field).toBe('children[1].children[0].queue');
    expect(refusal(flow({ queue: 'q', body: { x: () => 1 } })).field).toBe(
      'children[1].children[0].body.x',
    );
    expect(refusal(flow({ queue: 'q', body: 'x'.repeat(LIMIT) })).field).toBe(
      'children[1].children[0].body',
    );
    expect(refusal(flow({ queue: 'q', body: 1, options: { priority: -1 } })).field).toBe(
      'children[1].children[0].options.priority',
    );
    expect(refusal(flow({ queue: 'q', body: 1, options: { groupKey: '' } })).field).toBe(
      'children[1].children[0].options.groupKey',
    );
    expect(refusal(flow({ queue: 'q', body: 1, options: { onChildFailure: 'retry' } }))).toEqual({
      field: 'children[1].children[0].options.onChildFailure',
      rule: "must be 'fail', 'cancel' or 'ignore'",
    });
    expect(refusal(flow({ queue: 'q', body: 1, options: 'fast' })).field).toBe(
      'children[1].children[0].options',
    );
    expect(refusal(flow({ queue: 'q', body: 1, children: {} })).field).toBe(
      'children[1].children[0].children',
    );
    expect(refusal(flow(null)).field).toBe('children[1].children[0]');
    expect(refusal([]).field).toBe('flow');
    expect(refusal({ queue: 'q' }).field).toBe('body');
  });

  it('refuses unique keys anywhere in a flow, and a delay on a parent', () => {
    for (const option of ['uniqueKey', 'uniqueWhile', 'uniqueWindowSeconds']) {
      const { field, rule } = refusal({
        queue: 'root',
        body: 1,
        children: [{ queue: 'a', body: 1, options: { [option]: 'k' } }],
      });
      expect(field).toBe(`children[0].options.${option}`);
      expect(rule).toMatch(/not supported in a flow/);
    }
    expect(
      refusal({
        queue: 'root',
        body: 1,
        options: { delaySeconds: 5 },
        children: [{ queue: 'a', body: 1 }],
      }),
    ).toEqual({
      field: 'options.delaySeconds',
      rule: 'must not be given to a node with children: it becomes due when its last child ends',
    });
    // A leaf may wait.
    expect(
      flattenFlow({ queue: 'a', body: 1, options: { delaySeconds: 5 } }, LIMIT, sequential),
    ).toMatchObject({ delays: [5], waiting: [false], childFailures: [null] });
  });

  it('bounds the depth and the number of messages', () => {
    let deepest: FlowNode = { queue: 'q', body: MAX_FLOW_DEPTH };
    for (let level = MAX_FLOW_DEPTH - 1; level >= 1; level--) {
      deepest = { queue: 'q', body: level, children: [deepest] };
    }
    expect(flattenFlow(deepest, LIMIT, sequential).ids).toHaveLength(MAX_FLOW_DEPTH);
    const tooDeep = { queue: 'q', body: 0, children: [deepest] };
    const { field, rule } = refusal(tooDeep);
    expect(field).toBe(`${'children[0].'.repeat(MAX_FLOW_DEPTH - 1)}children`);
    expect(rule).toBe(`must not nest deeper than ${MAX_FLOW_DEPTH} levels`);

    const leaves = (count: number) =>
      Array.from({ length: count }, () => ({ queue: 'q', body: 1 }));
    const full = {
      queue: 'q',
      body: 0,
      children: [
        { queue: 'q', body: 1, children: leaves(MAX_FLOW_NODES - 3) },
        { queue: 'q', body: 1 },
      ],
    };
    expect(flattenFlow(full, LIMIT, sequential).ids).toHaveLength(MAX_FLOW_NODES);
    full.children[1] = { queue: 'q', body: 1, children: leaves(1) };
    expect(refusal(full).field).toBe('children[1].children');
  });

  it('refuses a huge flow before serialising its bodies', () => {
    let serialised = 0;
    const body = {
      toJSON() {
        serialised += 1;
        return 1;
      },
    };
    const flow = {
      queue: 'q',
      body: 0,
      children: Array.from({ length: MAX_FLOW_NODES }, () => ({ queue: 'q', body })),
    };
    expect(refusal(flow).field).toBe('children');
    expect(serialised).toBe(0);
  });
});

describe('flowIds', () => {
  it('draws increasing UUIDv7 ids stamped with the time', () => {
    const now = Date.UTC(2026, 10, 30, 12);
    const ids = flowIds(5_000, now);
    expect(new Set(ids).size).toBe(5_000);
    expect([...ids].sort()).toEqual(ids);
    for (const id of ids.slice(0, 3)) {
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(parseInt(id.replace(/-/g, '').slice(0, 12), 16)).toBe(now);
    }
    // Two flows in the same millisecond differ in their random bits.
    expect(flowIds(1, now)[0]).not.toBe(flowIds(1, now)[0]);
  });
});

import { describe, expect, it } from '@jest/globals';
import {
  MAX_ENQUEUE_BATCH,
  MAX_LEASE_BATCH,
  QueueValidationError,
  type QueueLease,
} from '../../src/index.js';
import { bootApp } from '../support/boot.js';
import { useQueueFixture } from '../support/queue-fixture.js';

const ctx = useQueueFixture('bad_input', { shared: {} });

async function rowCount(): Promise<number> {
  const { rows } = await ctx.db.query<{ count: string }>('SELECT count(*) FROM messages');
  return Number(rows[0]!.count);
}

/** Expects a QueueValidationError naming `field` with a rule matching `rule`, and no write. */
async function expectRejected(call: () => Promise<unknown>, field: string, rule: RegExp) {
  const before = await rowCount();
  const error = await call().then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(QueueValidationError);
  const validation = error as QueueValidationError;
  expect(validation.field).toBe(field);
  expect(validation.rule).toMatch(rule);
  expect(validation.message).toContain(field);
  expect(await rowCount()).toBe(before);
}

/** Lets a test pass what the types forbid, as a JavaScript caller could. */
const untyped = <T>(value: unknown): T => value as T;

function nested(depth: number): unknown {
  let value: unknown = 'leaf';
  for (let i = 0; i < depth; i++) value = [value];
  return value;
}

describe('queue names', () => {
  const cases: Array<[string, unknown, RegExp]> = [
    ['empty', '', /must not be empty/],
    ['over-long', 'q'.repeat(129), /at most 128 characters/],
    ['a newline', 'bad\nname', /control characters/],
    ['a NUL', 'bad\u0000name', /control characters/],
    ['DEL', 'bad\u007fname', /control characters/],
    ['a C1 control', 'bad\u0085name', /control characters/],
    ['a lone surrogate', 'bad\ud800name', /well-formed Unicode/],
    ['surrounding white space', ' ingest ', /white space/],
    ['a number', 42, /must be a string \(got number\)/],
    ['null', null, /must be a string \(got null\)/],
  ];
  it.each(cases)('refuses a queue name with %s', async (_label, name, rule) => {
    await expectRejected(() => ctx.queue.enqueue(untyped<string>(name), { n: 1 }), 'queue', rule);
    await expectRejected(
      () => ctx.queue.enqueueMany(untyped<string>(name), [{ n: 1 }]),
      'queue',
      rule,
    );
    await expectRejected(() => ctx.queue.leaseNext(untyped(name)), 'queue', rule);
    await expectRejected(() => ctx.queue.clearQueue(untyped(name)), 'queue', rule);
  });

  it('accepts 128 characters, and stores SQL-looking names verbatim', async () => {
    const hostile = "x'); DROP TABLE messages; --";
    await ctx.queue.enqueue('q'.repeat(128), { n: 1 });
    await ctx.queue.enqueue(hostile, { n: 2 });
    await ctx.queue.enqueue('"; SELECT pg_sleep(10); --', { n: 3 });
    const stats = await ctx.queue.getStats();
    expect(Object.keys(stats.byQueue).sort()).toEqual(
      ['"; SELECT pg_sleep(10); --', hostile, 'q'.repeat(128)].sort(),
    );
    expect((await ctx.queue.leaseNext(hostile))?.body).toEqual({ n: 2 });
  });
});

describe('bodies', () => {
  const cyclic: Record<string, unknown> = { a: 1 };
  cyclic.self = cyclic;
  const cases: Array<[string, unknown, string, RegExp]> = [
    ['undefined', undefined, 'body', /not undefined/],
    ['a function', () => 1, 'body', /not a function/],
    ['a symbol', Symbol('s'), 'body', /not a symbol/],
    ['a BigInt', 10n, 'body', /not a bigint/],
    ['a nested BigInt', { a: { b: 1n } }, 'body.a.b', /not a bigint/],
    ['a function property', { run: () => 1 }, 'body.run', /not a function/],
    ['undefined in an array', [1, undefined], 'body[1]', /not undefined/],
    ['a cycle', cyclic, 'body.self', /circular/],
    ['NaN', NaN, 'body', /finite number/],
    ['Infinity in an object', { x: -Infinity }, 'body.x', /finite number/],
    ['a string with NUL', 'a\u0000b', 'body', /\\u0000/],
    ['a nested string with NUL', { list: ['ok', 'b\u0000'] }, 'body.list[1]', /\\u0000/],
    ['a key with NUL', { 'a\u0000': 1 }, 'body["a\\u0000"]', /key with \\u0000/],
    ['a lone surrogate', { s: 'x\udc00' }, 'body.s', /lone surrogates/],
    ['a lone surrogate key', { 'k\ud800': 1 }, 'body["k\\ud800"]', /key with lone surrogates/],
    ['a Map', { m: new Map([[1, 2]]) }, 'body.m', /Map or Set/],
    ['a Set', new Set([1]), 'body', /Map or Set/],
    ['10,000 levels of nesting', nested(10_000), `body${'[0]'.repeat(256)}`, /deeper than 256/],
    [
      'a 10 MB body',
      { blob: 'z'.repeat(10 * 1024 * 1024) },
      'body',
      /at most 1048576 bytes as JSON/,
    ],
    [
      'a huge array',
      Array.from({ length: 1_000_000 }, (_, i) => i),
      'body',
      /at most 1048576 bytes as JSON/,
    ],
    ['over 1 MiB of JSON', 'x'.repeat(1024 * 1024), 'body', /at most 1048576 bytes as JSON/],
    [
      'over 1 MiB of UTF-8 in fewer characters',
      '€'.repeat(350_000),
      'body',
      /at most 1048576 bytes as JSON \(got 1050002\)/,
    ],
  ];
  it.each(cases)('refuses %s', async (_label, body, field, rule) => {
    await expectRejected(() => ctx.queue.enqueue('bodies', body), field, rule);
  });

  it('accepts 256 levels of nesting and a body just under 1 MiB', async () => {
    await ctx.queue.enqueue('bodies', nested(255));
    await ctx.queue.enqueue('bodies', 'x'.repeat(1024 * 1024 - 2));
    expect(await rowCount()).toBe(2);
  });

  it('writes nothing from a batch with one bad body, and names its index', async () => {
    await expectRejected(
      () => ctx.queue.enqueueMany('bodies', [{ x: 1 }, { x: 2 }, { x: 'bad\u0000' }, { x: 4 }]),
      'bodies[2].x',
      /\\u0000/,
    );
  });

  it('refuses bodies that are not an array', async () => {
    await expectRejected(
      () => ctx.queue.enqueueMany('bodies', untyped<unknown[]>({ length: 1, 0: {} })),
      'bodies',
      /must be an array \(got object\)/,
    );
  });
});

describe('seconds, limits and states', () => {
  const badSeconds: Array<[unknown, RegExp]> = [
    [-1, /must not be negative/],
    [1.5, /whole number/],
    [NaN, /finite number \(got NaN\)/],
    [Infinity, /finite number \(got Infinity\)/],
    ['5', /finite number \(got string\)/],
    [2 ** 31, /at most 2147483647/],
  ];
  it.each(badSeconds)('refuses %p as a delay', async (delaySeconds, rule) => {
    await expectRejected(
      () => ctx.queue.enqueue('s', { n: 1 }, { delaySeconds: untyped(delaySeconds) }),
      'delaySeconds',
      rule,
    );
    await expectRejected(
      () => ctx.queue.enqueueMany('s', [{ n: 1 }], { delaySeconds: untyped(delaySeconds) }),
      'delaySeconds',
      rule,
    );
  });

  // A lease is at most a day, for processors and leaseNext alike.
  it.each(
    badSeconds
      .map(([value, rule]) => [
        value,
        value === -1 ? /at least 1/ : value === 2 ** 31 ? /at most 86400/ : rule,
      ])
      .concat([
        [0, /at least 1 \(got 0\)/],
        [86_401, /at most 86400 \(got 86401\)/],
      ]) as Array<[unknown, RegExp]>,
  )('refuses %p as a lease', async (leaseSeconds, rule) => {
    await ctx.queue.enqueue('s', { n: 1 });
    await expectRejected(
      () => ctx.queue.leaseNext('s', { leaseSeconds: untyped(leaseSeconds) }),
      'leaseSeconds',
      rule,
    );
    expect((await ctx.queue.getStats()).byState).toMatchObject({ ready: 1, leased: 0 });
  });

  it.each([
    [0, /at least 1 \(got 0\)/],
    [1_001, /at most 1000 \(got 1001\)/],
    [2.5, /whole number/],
  ] as Array<[number, RegExp]>)(
    'refuses %p as maxAttempts, the same bound as a processor’s',
    async (maxAttempts, rule) => {
      await ctx.queue.enqueue('s', { n: 1 });
      await expectRejected(() => ctx.queue.leaseNext('s', { maxAttempts }), 'maxAttempts', rule);
      expect((await ctx.queue.getStats()).byState).toMatchObject({ ready: 1, leased: 0 });
    },
  );

  it.each([
    [0, /at least 1/],
    [10_001, /at most 10000/],
    [2.5, /whole number/],
  ] as Array<[number, RegExp]>)('refuses %p as a leaseMany limit', async (limit, rule) => {
    await expectRejected(() => ctx.queue.leaseMany('s', limit), 'limit', rule);
  });

  it('caps every array argument, before any statement', async () => {
    await expectRejected(
      () => ctx.queue.enqueueMany('s', new Array<object>(MAX_ENQUEUE_BATCH + 1).fill({ n: 1 })),
      'bodies',
      /at most 100000 items \(got 100001\)/,
    );
    const lease = { id: 'x', leaseToken: '00000000-0000-4000-8000-000000000000' };
    await expectRejected(
      () => ctx.queue.ackMany('s', new Array<typeof lease>(MAX_LEASE_BATCH + 1).fill(lease)),
      'leases',
      /at most 10000 items/,
    );
    await expectRejected(
      () => ctx.queue.retryFailed('s', new Array<string>(MAX_LEASE_BATCH + 1).fill('x')),
      'ids',
      /at most 10000 items/,
    );
  });

  it('caps the JSON of one enqueueMany in all, below what one parameter can carry', async () => {
    // 257 bodies of 1 MiB each pass the per-body limit and together pass 256 MiB.
    const body = 'x'.repeat(1024 * 1024 - 16);
    await expectRejected(
      () => ctx.queue.enqueueMany('s', new Array<string>(257).fill(body)),
      'bodies',
      /at most 268435456 bytes of JSON in all/,
    );
  });

  it('refuses a bad requeue delay and leaves the lease in place', async () => {
    await ctx.queue.enqueue('s', { n: 1 });
    const leased = (await ctx.queue.leaseNext('s'))!;
    await expectRejected(
      () => ctx.queue.nack('s', leased, { requeueDelaySeconds: -5 }),
      'requeueDelaySeconds',
      /must not be negative/,
    );
    expect((await ctx.queue.getStats()).byState.leased).toBe(1);
  });

  it('refuses an unknown state in clearQueue', async () => {
    await ctx.queue.enqueue('s', { n: 1 });
    await expectRejected(
      () => ctx.queue.clearQueue('s', untyped("ready' OR '1'='1")),
      'state',
      /must be one of ready, leased, done, failed/,
    );
    expect(await rowCount()).toBe(1);
  });

  it('refuses a reap limit out of range', async () => {
    await expectRejected(() => ctx.queue.reapExpiredLeases({ limit: 0 }), 'limit', /at least 1/);
  });

  it('refuses options that are not an object', async () => {
    await expectRejected(() => ctx.queue.enqueue('s', { n: 1 }, untyped(5)), 'options', /object/);
  });
});

describe('flow-control options of enqueue and enqueueMany', () => {
  const cases: Array<[string, object, string, RegExp]> = [
    ['a negative priority', { priority: -1 }, 'options.priority', /must not be negative/],
    ['a fractional priority', { priority: 1.5 }, 'options.priority', /whole number/],
    ['a priority over 1,000,000', { priority: 1_000_001 }, 'options.priority', /at most 1000000/],
    ['a priority as text', { priority: '5' }, 'options.priority', /finite number \(got string\)/],
    ['an empty uniqueKey', { uniqueKey: '' }, 'options.uniqueKey', /must not be empty/],
    [
      'a 256-character uniqueKey',
      { uniqueKey: 'k'.repeat(256) },
      'options.uniqueKey',
      /at most 255/,
    ],
    ['a uniqueKey with NUL', { uniqueKey: 'a\u0000' }, 'options.uniqueKey', /control characters/],
    ['a numeric uniqueKey', { uniqueKey: 7 }, 'options.uniqueKey', /must be a string/],
    ['a groupKey with a newline', { groupKey: 'a\nb' }, 'options.groupKey', /control characters/],
    [
      'a groupKey with a lone surrogate',
      { groupKey: 'g\ud800' },
      'options.groupKey',
      /well-formed/,
    ],
    ['an empty groupKey', { groupKey: '' }, 'options.groupKey', /must not be empty/],
    [
      'an unknown uniqueWhile',
      { uniqueKey: 'k', uniqueWhile: 'forever' },
      'options.uniqueWhile',
      /'active' or 'activeOrFailed'/,
    ],
    [
      'uniqueWhile without a key',
      { uniqueWhile: 'active' },
      'options.uniqueWhile',
      /needs options\.uniqueKey/,
    ],
    [
      'a zero window',
      { uniqueKey: 'k', uniqueWindowSeconds: 0 },
      'options.uniqueWindowSeconds',
      /at least 1/,
    ],
    [
      'a window past an integer',
      { uniqueKey: 'k', uniqueWindowSeconds: 2 ** 31 },
      'options.uniqueWindowSeconds',
      /at most 2147483647/,
    ],
    [
      'a window without a key',
      { uniqueWindowSeconds: 60 },
      'options.uniqueWindowSeconds',
      /needs options\.uniqueKey/,
    ],
    [
      'a window with uniqueWhile',
      { uniqueKey: 'k', uniqueWhile: 'active', uniqueWindowSeconds: 60 },
      'options.uniqueWindowSeconds',
      /must not be given with uniqueWhile/,
    ],
  ];
  it.each(cases)('refuses %s', async (_label, options, field, rule) => {
    await expectRejected(() => ctx.queue.enqueue('f', { n: 1 }, untyped(options)), field, rule);
    await expectRejected(
      () => ctx.queue.enqueueMany('f', [{ n: 1 }, { n: 2 }], untyped(options)),
      field,
      rule,
    );
  });

  it('names the body whose per-message value is refused, and writes none of the batch', async () => {
    const bodies = [{ k: 'a' }, { k: 'b' }, { k: 'c' }, { k: '' }, { k: 'e' }];
    await expectRejected(
      () => ctx.queue.enqueueMany('f', bodies, { uniqueKey: (body) => body.k }),
      'options.uniqueKey(bodies[3])',
      /must not be empty/,
    );
    await expectRejected(
      () =>
        ctx.queue.enqueueMany('f', bodies, { priority: (_body, index) => (index === 1 ? -1 : 1) }),
      'options.priority(bodies[1])',
      /must not be negative/,
    );
    await expectRejected(
      () =>
        ctx.queue.enqueueMany('f', bodies, {
          groupKey: (body) => untyped<string>(body.k === 'e' ? 5 : body.k || undefined),
        }),
      'options.groupKey(bodies[4])',
      /must be a string \(got number\)/,
    );
  });

  it('accepts the bounds', async () => {
    await ctx.queue.enqueue('f', { n: 1 }, { priority: 1_000_000, uniqueKey: 'k'.repeat(255) });
    await ctx.queue.enqueue('f', { n: 2 }, { priority: 0, groupKey: 'g'.repeat(255) });
    await ctx.queue.enqueue('f', { n: 3 }, { uniqueKey: 'w', uniqueWindowSeconds: 2 ** 31 - 1 });
    expect(await rowCount()).toBe(3);
  });
});

describe('leases and ids', () => {
  it.each([
    [null, 'lease', /leased message/],
    [7, 'lease', /leased message.*or a message id/],
    ['', 'id', /must not be empty/],
    ['x\u0000', 'id', /control characters/],
    [{ id: '', leaseToken: '00000000-0000-4000-8000-000000000000' }, 'id', /must not be empty/],
    [{ id: 'x' }, 'leaseToken', /lease token/],
    [{ id: 'x', leaseToken: "' OR 1=1 --" }, 'leaseToken', /lease token/],
  ] as Array<[unknown, string, RegExp]>)('refuses %p as a lease', async (lease, field, rule) => {
    await expectRejected(() => ctx.queue.ack('s', untyped<QueueLease>(lease)), field, rule);
    await expectRejected(() => ctx.queue.nack('s', untyped<QueueLease>(lease)), field, rule);
  });

  it.each([
    ['', /must not be empty/],
    ['x\u0000', /control characters/],
    ['i'.repeat(256), /at most 255/],
    [7, /must be a string/],
  ] as Array<[unknown, RegExp]>)('refuses %p as a message id', async (id, rule) => {
    await expectRejected(() => ctx.queue.deleteMessage(untyped(id)), 'id', rule);
  });

  it('treats an SQL-looking id as data', async () => {
    await ctx.queue.enqueue('s', { n: 1 });
    expect(await ctx.queue.deleteMessage("' OR '1'='1")).toBe(false);
    expect(await rowCount()).toBe(1);
  });
});

describe('maxBodyBytes option', () => {
  it('applies a smaller limit from the module options', async () => {
    const small = await bootApp({ connectionString: ctx.db.url, maxBodyBytes: 100 });
    try {
      await expectRejected(
        () => small.queue.enqueue('s', { text: 'y'.repeat(100) }),
        'body',
        /at most 100 bytes as JSON \(got 111\)/,
      );
      await small.queue.enqueue('s', { text: 'y'.repeat(80) });
      expect(await rowCount()).toBe(1);
    } finally {
      await small.close();
    }
  });
});

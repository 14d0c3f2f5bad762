import { describe, expect, it } from '@jest/globals';
import { type EntityManager } from 'typeorm';
import { LazyAbort } from '../../src/async/lazy-abort.js';
import { type LeasedMessage } from '../../src/interfaces/queue-message.interface.js';
import { HandlerMessage, type HandlerMethods } from '../../src/workers/handler-message.js';

const leased: LeasedMessage = {
  id: 'm1',
  queue: 'q',
  body: { raw: true },
  attempts: 2,
  state: 'leased',
  availableAt: new Date(1_000),
  leaseUntil: new Date(2_000),
  createdAt: new Date(500),
  leaseToken: 't1',
  lastError: null,
  originQueue: null,
  priority: 3,
  uniqueKey: 'k',
  groupKey: 'g',
  parentId: null,
  traceContext: null,
};

const seen: string[] = [];
const methods: HandlerMethods = {
  progress(value) {
    seen.push(`${this.leaseToken}:${String(value)}`);
    return Promise.resolve(true);
  },
  children() {
    seen.push(`children of ${this.id}`);
    return Promise.resolve([]);
  },
};

describe('HandlerMessage', () => {
  it('carries every field of the leased message, with the body it was given', () => {
    const message = new HandlerMessage(leased, { validated: 1 }, new LazyAbort(), methods);
    const { body, ...rest } = leased;
    expect(body).toEqual({ raw: true });
    expect(message).toMatchObject({ ...rest, body: { validated: 1 } });
  });

  it('calls progress and children on itself', async () => {
    const message = new HandlerMessage(leased, leased.body, new LazyAbort(), methods);
    await message.progress(40);
    await message.children();
    expect(seen).toEqual(['t1:40', 'children of m1']);
  });

  it('gives the abort of its execution as signal, also when aborted before the handler looked', () => {
    const abort = new LazyAbort();
    const message = new HandlerMessage(leased, leased.body, abort, methods);
    const reason = new Error('lease lost');
    abort.abort(reason);
    expect(message.signal.aborted).toBe(true);
    expect(message.signal.reason).toBe(reason);
  });

  it('adds a manager for a transactional handler, keeping the same signal', () => {
    const abort = new LazyAbort();
    const message = new HandlerMessage(leased, leased.body, abort, methods);
    expect('manager' in message).toBe(false);
    const manager = { name: 'manager' } as unknown as EntityManager;
    const transactional = message.withManager(manager);
    expect(transactional.manager).toBe(manager);
    expect(transactional.signal).toBe(message.signal);
    expect(transactional).toMatchObject({ id: 'm1', leaseToken: 't1', priority: 3 });
  });
});

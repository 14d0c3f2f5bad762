import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import {
  OnQueueEvent,
  QUEUE_EVENT_NAMES,
  QueueEventListenerError,
  type QueueCompletedEvent,
  type QueueEventMap,
  type QueueFailedEvent,
  type QueueMessage,
} from '../../src/index.js';
import { QueueEventListeners } from '../../src/events/queue-event-metadata.js';
import { queueEventRule } from '../../src/events/queue-event-rules.js';
import {
  NO_INTEREST,
  QueueEvents,
  type QueueEventListenerDefinition,
} from '../../src/events/queue-events.js';

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

function listener(
  event: QueueEventListenerDefinition['event'],
  queue: string | undefined,
  heard: unknown[],
  name = `L.${event}`,
  body: (payload: unknown) => unknown = () => undefined,
): QueueEventListenerDefinition {
  return {
    event,
    queue,
    listenerName: name,
    listener: (payload: unknown) => {
      heard.push([name, payload]);
      return body(payload);
    },
  };
}

const message = (id: string, queue: string) => ({ id, queue }) as unknown as QueueMessage;

describe('queueEventRule', () => {
  it('accepts every event name, with or without a queue', () => {
    for (const event of QUEUE_EVENT_NAMES) {
      expect(queueEventRule(event, undefined)).toBeUndefined();
      expect(queueEventRule(event, 'ingest.main')).toBeUndefined();
    }
  });

  it('names the known events when one is unknown', () => {
    expect(queueEventRule('complete', undefined)).toBe(
      'unknown event "complete"; expected one of "completed", "failed", "dead-lettered", "cancelled", "stalled", "progress"',
    );
    expect(queueEventRule(42, undefined)).toMatch(/^unknown event 42;/);
  });

  it('applies the queue name rules', () => {
    expect(queueEventRule('completed', '')).toBe('the queue must not be empty');
    expect(queueEventRule('completed', 7)).toBe('the queue must be a string (got number)');
  });
});

describe('@OnQueueEvent', () => {
  it('stores every declaration of a method, in order', () => {
    class Listens {
      @OnQueueEvent('completed')
      @OnQueueEvent('failed', 'ingest')
      both(): void {}
    }
    // Decorators apply bottom-up.
    const method: unknown = Object.getOwnPropertyDescriptor(Listens.prototype, 'both')?.value;
    expect(Reflect.getMetadata(QueueEventListeners.KEY, method as object)).toEqual([
      { event: 'failed', queue: 'ingest' },
      { event: 'completed', queue: undefined },
    ]);
  });

  it('refuses anything but a method', () => {
    const decorate = OnQueueEvent('completed') as (
      target: object,
      key: string,
      descriptor: PropertyDescriptor,
    ) => void;
    expect(() => decorate({}, 'value', { value: 1 })).toThrow(QueueEventListenerError);
  });

  it('types the method by its event', () => {
    class Typed {
      @OnQueueEvent('completed')
      completed(event: QueueCompletedEvent): void {
        const typed: QueueMessage = event.message;
        void typed;
      }

      @OnQueueEvent('failed')
      failed(event: QueueFailedEvent): Promise<number> {
        return Promise.resolve(event.attempt);
      }

      @OnQueueEvent('stalled')
      noArgument(): void {}

      // @ts-expect-error a `completed` listener does not receive a failure
      @OnQueueEvent('completed')
      wrong(event: QueueFailedEvent): void {
        void event;
      }
    }
    expect(Typed).toBeDefined();
    const deadLetterQueue: QueueEventMap['dead-lettered']['deadLetterQueue'] = null;
    expect(deadLetterQueue).toBeNull();
  });
});

describe('QueueEvents', () => {
  afterEach(() => {
    jest.restoreAllMocks();
  });

  it('costs nothing without listeners: one shared interest, every flag off', () => {
    const events = new QueueEvents();
    events.record([]);
    expect(events.interest('a')).toBe(NO_INTEREST);
    expect(events.interest('b')).toBe(NO_INTEREST);
    expect(Object.values(NO_INTEREST)).toEqual(QUEUE_EVENT_NAMES.map(() => false));
    expect(Object.isFrozen(NO_INTEREST)).toBe(true);
  });

  it('knows which events of which queue are heard, once per queue', () => {
    const events = new QueueEvents();
    events.record([listener('completed', undefined, []), listener('failed', 'a', [])]);
    expect(events.interest('a')).toMatchObject({ completed: true, failed: true, stalled: false });
    expect(events.interest('b')).toMatchObject({ completed: true, failed: false });
    expect(events.interest('a')).toBe(events.interest('a'));
    expect(events.hears('failed', 'b')).toBe(false);
    expect(events.hears('failed', 'a')).toBe(true);
  });

  it('runs listeners after the current turn, in emission order, filtered by queue', async () => {
    const heard: unknown[] = [];
    const events = new QueueEvents();
    events.record([
      listener('progress', undefined, heard, 'Every.progress'),
      listener('completed', 'a', heard, 'A.completed'),
      listener('completed', undefined, heard, 'Every.completed'),
    ]);
    events.progress(message('1', 'a'), 50);
    events.emit('completed', { id: '1', queue: 'a', message: message('1', 'a') });
    events.emit('completed', { id: '2', queue: 'b', message: message('2', 'b') });
    events.emit('failed', {
      id: '3',
      queue: 'a',
      message: message('3', 'a'),
      error: new Error('x'),
      attempt: 1,
      maxAttempts: 2,
      delaySeconds: 1,
    });
    expect(heard).toEqual([]);
    await nextTurn();
    expect(heard.map((entry) => (entry as [string, { id: string }])[0])).toEqual([
      'Every.progress',
      'A.completed',
      'Every.completed',
      'Every.completed',
    ]);
    expect((heard[0] as [string, unknown])[1]).toMatchObject({ id: '1', queue: 'a', value: 50 });
    expect((heard[3] as [string, { id: string }])[1].id).toBe('2');
  });

  it('logs a listener that throws or rejects, and still calls the others', async () => {
    const errors: string[] = [];
    jest.spyOn(Logger.prototype, 'error').mockImplementation((line: unknown) => {
      errors.push(String(line));
    });
    const heard: unknown[] = [];
    const events = new QueueEvents();
    events.record([
      listener('completed', undefined, heard, 'Throws.completed', () => {
        throw new TypeError('bad');
      }),
      listener('completed', undefined, heard, 'Rejects.completed', () =>
        Promise.reject(new Error('later')),
      ),
      listener('completed', undefined, heard, 'Fine.completed'),
    ]);
    events.emit('completed', { id: '9', queue: 'q', message: message('9', 'q') });
    await nextTurn();
    await nextTurn();
    expect(heard).toHaveLength(3);
    expect(errors).toEqual([
      '@OnQueueEvent("completed") listener Throws.completed failed for message 9 of "q" (TypeError: bad); the message is not affected',
      '@OnQueueEvent("completed") listener Rejects.completed failed for message 9 of "q" (Error: later); the message is not affected',
    ]);
  });

  it('turns reaped rows into stalled events, then dead-lettered or cancelled ones', async () => {
    const heard: unknown[] = [];
    const events = new QueueEvents();
    events.record([
      listener('stalled', undefined, heard),
      listener('dead-lettered', 'src', heard),
      listener('cancelled', undefined, heard),
    ]);
    events.reaped([
      { queue: 'src', outcome: 'ready', count: 2, ids: ['r1', 'r2'] },
      { queue: 'dlq', outcome: 'moved', count: 1, ids: ['m1'], fromQueue: 'src' },
      { queue: 'other', outcome: 'failed', count: 1, ids: ['f1'] },
      { queue: 'src', outcome: 'cancelled', count: 1, ids: ['c1'] },
    ]);
    await nextTurn();
    expect(heard.map((entry) => (entry as [string, unknown])[1])).toEqual([
      { id: 'r1', queue: 'src', outcome: 'ready' },
      { id: 'r2', queue: 'src', outcome: 'ready' },
      { id: 'm1', queue: 'src', outcome: 'moved', deadLetterQueue: 'dlq' },
      { id: 'm1', queue: 'src', deadLetterQueue: 'dlq', by: 'reaper' },
      // No dead-lettered listener for "other".
      { id: 'f1', queue: 'other', outcome: 'failed' },
      { id: 'c1', queue: 'src', outcome: 'cancelled' },
      { id: 'c1', queue: 'src', when: 'leaseExpired' },
    ]);
  });

  it('emits nothing and schedules nothing when no listener hears it', async () => {
    const immediate = jest.spyOn(global, 'setImmediate');
    const events = new QueueEvents();
    events.record([listener('completed', 'a', [])]);
    events.progress(message('1', 'a'), 1);
    events.emit('completed', { id: '1', queue: 'b', message: message('1', 'b') });
    events.reaped([{ queue: 'a', outcome: 'ready', count: 1, ids: ['x'] }]);
    expect(immediate).not.toHaveBeenCalled();
    immediate.mockRestore();
    await nextTurn();
  });
});

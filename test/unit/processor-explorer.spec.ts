import { describe, expect, it } from '@jest/globals';
import { Injectable, Scope, type Type } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import { resolveQueueConfig } from '../../src/config/resolve-queue-config.js';
import {
  Processor,
  QueueProcessorError,
  type ProcessorDefaults,
  type ProcessorOptions,
} from '../../src/index.js';
import { type ProcessorDefinition } from '../../src/processor/processor-definition.js';
import { ProcessorCatalog } from '../../src/processor/processor.catalog.js';
import {
  assertOneHandlerPerQueue,
  ProcessorExplorer,
} from '../../src/processor/processor.explorer.js';
import { QUEUE_CONFIG } from '../../src/queue.constants.js';

/**
 * Discovery alone, in a real Nest container, without a database: the explorer, the catalog it
 * writes, and the given providers. Resolves with the catalog, or rejects with what discovery threw.
 */
async function discover(
  providers: Array<Type<unknown>>,
  processorDefaults: ProcessorDefaults = {},
): Promise<readonly ProcessorDefinition[]> {
  const moduleRef = await Test.createTestingModule({
    imports: [DiscoveryModule],
    providers: [
      ProcessorExplorer,
      ProcessorCatalog,
      {
        provide: QUEUE_CONFIG,
        useValue: resolveQueueConfig({
          connectionString: 'postgres://unit@127.0.0.1:1/none',
          processorDefaults,
        }),
      },
      ...providers,
    ],
  }).compile();
  moduleRef.useLogger(false);
  try {
    await moduleRef.init();
    moduleRef.get(ProcessorExplorer).discover();
    return moduleRef.get(ProcessorCatalog).definitions;
  } finally {
    await moduleRef.close();
  }
}

async function wiringError(...providers: Array<Type<unknown>>): Promise<QueueProcessorError> {
  const error = await discover(providers).then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(QueueProcessorError);
  return error as QueueProcessorError;
}

describe('the explorer records what it finds', () => {
  it('resolves options over the module defaults, inherited handlers included', async () => {
    abstract class Base {
      @Processor('unit.inherited')
      handle(): void {}
    }
    @Injectable()
    class Child extends Base {}
    @Injectable()
    class Own {
      @Processor('unit.own', { concurrency: 4 })
      run(): void {}
    }
    const definitions = await discover([Child, Own], { maxAttempts: 9 });
    expect(definitions.map((d) => [d.queue, d.handlerName])).toEqual([
      ['unit.inherited', 'Child.handle'],
      ['unit.own', 'Own.run'],
    ]);
    expect(definitions[1]!.options).toMatchObject({ concurrency: 4, maxAttempts: 9 });
    expect(Object.isFrozen(definitions)).toBe(true);
  });

  it('binds the handler to its provider instance', async () => {
    const calls: Array<{ self: unknown; message: unknown }> = [];
    @Injectable()
    class Stateful {
      @Processor('unit.bound')
      handle(message: unknown): void {
        calls.push({ self: this, message });
      }
    }
    const [definition] = await discover([Stateful]);
    const message = { id: 'm1' } as never;
    definition!.handler(message);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.self).toBeInstanceOf(Stateful);
    expect(calls[0]!.message).toBe(message);
  });
});

describe('wiring errors', () => {
  it('two handlers for one queue without shareQueue', async () => {
    @Injectable()
    class First {
      @Processor('unit.twice')
      handle(): void {}
    }
    @Injectable()
    class Second {
      @Processor('unit.twice')
      handle(): void {}
    }
    const error = await wiringError(First, Second);
    expect(error.queue).toBe('unit.twice');
    expect(error.message).toMatch(/First\.handle and Second\.handle: more than one handler/);
    expect(error.message).toMatch(/shareQueue: true/);
  });

  it('accepts two handlers for one queue when both share it', async () => {
    @Injectable()
    class First {
      @Processor('unit.shared', { shareQueue: true })
      handle(): void {}
    }
    @Injectable()
    class Second {
      @Processor('unit.shared', { shareQueue: true })
      handle(): void {}
    }
    expect(await discover([First, Second])).toHaveLength(2);
  });

  it('a request-scoped provider', async () => {
    @Injectable({ scope: Scope.REQUEST })
    class PerRequest {
      @Processor('unit.request')
      handle(): void {}
    }
    const error = await wiringError(PerRequest);
    expect(error.handler).toBe('PerRequest.handle');
    expect(error.rule).toMatch(/request-scoped or transient/);
  });

  it('a transient provider', async () => {
    @Injectable({ scope: Scope.TRANSIENT })
    class Transient {
      @Processor('unit.transient')
      handle(): void {}
    }
    expect((await wiringError(Transient)).rule).toMatch(/request-scoped or transient/);
  });

  it('a method shadowed by a non-function on the instance', async () => {
    @Injectable()
    class Shadowed {
      constructor() {
        Object.defineProperty(this, 'handle', { value: 42 });
      }
      @Processor('unit.shadowed')
      handle(): void {}
    }
    expect((await wiringError(Shadowed)).rule).toMatch(/handle is not a function/);
  });

  const badOptions: Array<[string, ProcessorOptions, RegExp]> = [
    ['concurrency 0', { concurrency: 0 }, /option "concurrency" must not be less than 1/],
    ['a fractional lease', { leaseSeconds: 1.5 }, /option "leaseSeconds" must be an integer/],
    ['maxAttempts 0', { maxAttempts: 0 }, /option "maxAttempts" must not be less than 1/],
    [
      'an unknown backoff',
      { backoff: { type: 'linear' } as never },
      /option "backoff.type" must be one of/,
    ],
    [
      'a fixed backoff without delay',
      { backoff: { type: 'fixed' } as never },
      /option "backoff.delaySeconds"/,
    ],
    ['a body that is not a class', { body: {} as never }, /option "body" must be a class/],
    [
      'a bad dead-letter queue',
      { deadLetterQueue: ' x' },
      /option "deadLetterQueue" must not start or end with white space/,
    ],
    ['a misspelt option', { concurency: 2 } as never, /option "concurency" is not a known option/],
  ];
  it.each(badOptions)('%s', async (_label, options, rule) => {
    @Injectable()
    class BadOptions {
      @Processor('unit.options', options)
      handle(): void {}
    }
    expect((await wiringError(BadOptions)).message).toMatch(rule);
  });

  it('a dead-letter queue equal to the queue', async () => {
    @Injectable()
    class Loop {
      @Processor('unit.loop', { deadLetterQueue: 'unit.loop' })
      handle(): void {}
    }
    expect((await wiringError(Loop)).rule).toMatch(/must differ from the queue itself/);
  });

  it('an invalid queue name', async () => {
    @Injectable()
    class BadName {
      @Processor('')
      handle(): void {}
    }
    expect((await wiringError(BadName)).rule).toMatch(/queue name must not be empty/);
  });

  it('@Processor on something that is not a method, at class definition', () => {
    expect(() => {
      class Holder {
        @(Processor('unit.getter') as PropertyDecorator)
        value = 1;
      }
      return Holder;
    }).toThrow(QueueProcessorError);
    expect(() => {
      class Getter {
        // The compiler refuses it too (not a handler); the check at definition is for JavaScript.
        @(Processor('unit.getter') as unknown as MethodDecorator)
        get value(): number {
          return 1;
        }
      }
      return Getter;
    }).toThrow(/must decorate a method/);
  });
});

describe('assertOneHandlerPerQueue', () => {
  const definition = (queue: string, handlerName: string, shareQueue: boolean) =>
    ({ queue, handlerName, options: { shareQueue } }) as unknown as ProcessorDefinition;

  it('names every handler of the crowded queue', () => {
    expect(() =>
      assertOneHandlerPerQueue([
        definition('a', 'A.one', true),
        definition('a', 'A.two', false),
        definition('b', 'B.one', false),
      ]),
    ).toThrow(/"a"\) on A\.one and A\.two/);
  });

  it('lets distinct queues and shared ones pass', () => {
    expect(() =>
      assertOneHandlerPerQueue([
        definition('a', 'A.one', true),
        definition('a', 'A.two', true),
        definition('b', 'B.one', false),
      ]),
    ).not.toThrow();
  });
});

import { describe, expect, it } from '@jest/globals';
import { Injectable } from '@nestjs/common';
import { IsString } from 'class-validator';
import {
  Processor,
  QueueModule,
  QueueOptionsError,
  QueueProcessorError,
  QueueValidationError,
  type ProcessorDefaults,
  type ProcessorMessage,
} from '../../../src/index.js';
import { useQueueFixture } from '../../support/queue-fixture.js';
import { bootApp, waitFor, bootError } from '../../support/boot.js';

const { db } = useQueueFixture('discovery', { reset: 'none' });

class Doc {
  @IsString()
  title!: string;
}

@Injectable()
class TwoQueues {
  readonly seen: string[] = [];

  @Processor('disc.alpha')
  alpha(message: ProcessorMessage<{ n: number }>): void {
    this.seen.push(`alpha:${message.body.n}`);
  }

  @Processor('disc.beta', { concurrency: 3, body: Doc, deadLetterQueue: 'disc.dead' })
  beta(message: ProcessorMessage<Doc>): void {
    this.seen.push(`beta:${message.body.title}`);
  }

  notAHandler(): void {}
}

abstract class BaseHandlers {
  readonly seen: string[] = [];

  @Processor('disc.inherited')
  handle(message: ProcessorMessage<{ n: number }>): void {
    this.seen.push(`${this.constructor.name}:${message.body.n}`);
  }
}

@Injectable()
class ChildHandlers extends BaseHandlers {}

describe('discovery', () => {
  it('finds method handlers, two queues on one provider, and inherited handlers', async () => {
    const app = await bootApp({ connectionString: db.url, schema: 'disc_found' }, [
      TwoQueues,
      ChildHandlers,
    ]);
    try {
      expect(
        app.registry.getProcessors().map((p) => [p.queue, p.handler, p.options.concurrency]),
      ).toEqual([
        ['disc.alpha', 'TwoQueues.alpha', 1],
        ['disc.beta', 'TwoQueues.beta', 3],
        ['disc.inherited', 'ChildHandlers.handle', 1],
      ]);
      const beta = app.registry.getProcessors()[1]!;
      expect(beta.options).toMatchObject({
        leaseSeconds: 60,
        maxAttempts: 5,
        deadLetterQueue: 'disc.dead',
        body: 'Doc',
        backoff: { type: 'exponential', baseSeconds: 5, maxSeconds: 3600, jitter: true },
      });

      await app.queue.enqueue('disc.alpha', { n: 1 });
      await app.queue.enqueue('disc.beta', { title: 'hello' });
      await app.queue.enqueue('disc.inherited', { n: 2 });
      const two = app.get(TwoQueues);
      const child = app.get(ChildHandlers);
      await waitFor(() => two.seen.length === 2 && child.seen.length === 1);
      expect(two.seen.sort()).toEqual(['alpha:1', 'beta:hello']);
      expect(child.seen).toEqual(['ChildHandlers:2']);
    } finally {
      await app.close();
    }
  });

  it('applies processorDefaults under a processor’s own options', async () => {
    @Injectable()
    class Defaults {
      @Processor('disc.defaults', { maxAttempts: 9 })
      handle(): void {}
    }
    const app = await bootApp(
      {
        connectionString: db.url,
        schema: 'disc_defaults',
        processorDefaults: {
          concurrency: 4,
          maxAttempts: 2,
          backoff: { type: 'fixed', delaySeconds: 7 },
        },
      },
      [Defaults],
    );
    try {
      expect(app.registry.getProcessors()[0]!.options).toMatchObject({
        concurrency: 4,
        maxAttempts: 9,
        backoff: { type: 'fixed', delaySeconds: 7 },
      });
    } finally {
      await app.close();
    }
  });

  it('lets two handlers share a queue when both say so', async () => {
    @Injectable()
    class SharedA {
      @Processor('disc.shared', { shareQueue: true })
      handle(): void {}
    }
    @Injectable()
    class SharedB {
      @Processor('disc.shared', { shareQueue: true })
      handle(): void {}
    }
    const app = await bootApp({ connectionString: db.url, schema: 'disc_shared' }, [
      SharedA,
      SharedB,
    ]);
    try {
      expect(app.registry.getProcessors().map((p) => p.handler)).toEqual([
        'SharedA.handle',
        'SharedB.handle',
      ]);
    } finally {
      await app.close();
    }
  });

  it('workers: false discovers and validates processors but consumes nothing', async () => {
    const app = await bootApp(
      { connectionString: db.url, schema: 'disc_api_only', workers: false },
      [TwoQueues],
    );
    try {
      expect(app.registry.getProcessors().map((p) => p.state)).toEqual([
        'notStarted',
        'notStarted',
      ]);
      await app.queue.enqueue('disc.alpha', { n: 1 });
      await new Promise((resolve) => setTimeout(resolve, 400));
      expect(app.get(TwoQueues).seen).toEqual([]);
      expect((await app.queue.getStats()).byState.ready).toBe(1);
    } finally {
      await app.close();
    }
  });
});

describe('pause and resume', () => {
  it('stops fetching for a queue in this process and starts again', async () => {
    const app = await bootApp({ connectionString: db.url, schema: 'disc_pause' }, [TwoQueues]);
    try {
      const two = app.get(TwoQueues);
      const alphaState = () => app.registry.getProcessors()[0]!.state;
      await waitFor(() => alphaState() === 'waiting', 5_000, 'the idle worker to wait');
      app.registry.pause('disc.alpha');
      expect(app.registry.isPaused('disc.alpha')).toBe(true);
      expect(app.registry.getProcessors()[0]!.paused).toBe(true);
      await waitFor(() => alphaState() === 'paused', 5_000, 'the worker to see the pause');
      await app.queue.enqueue('disc.alpha', { n: 7 });
      await new Promise((resolve) => setTimeout(resolve, 400));
      expect(two.seen).toEqual([]);
      app.registry.resume('disc.alpha');
      await waitFor(() => two.seen.length === 1);
      expect(alphaState()).not.toBe('paused');
      expect(two.seen).toEqual(['alpha:7']);
      expect(() => app.registry.pause('no.such.queue')).toThrow(QueueValidationError);
    } finally {
      await app.close();
    }
  });
});

describe('wiring errors fail the boot', () => {
  // Every wiring rule is unit-tested in test/unit/processor-explorer.spec.ts; this one shows the
  // rule stops a real boot.
  it('two handlers for one queue without shareQueue', async () => {
    @Injectable()
    class First {
      @Processor('disc.twice')
      handle(): void {}
    }
    @Injectable()
    class Second {
      @Processor('disc.twice')
      handle(): void {}
    }
    const error = await bootError({
      imports: [
        QueueModule.forRoot({ connectionString: db.url, schema: 'disc_errors', poolMinSize: 1 }),
      ],
      providers: [First, Second],
    });
    expect(error).toBeInstanceOf(QueueProcessorError);
    expect((error as QueueProcessorError).queue).toBe('disc.twice');
    expect((error as QueueProcessorError).message).toMatch(
      /First\.handle and Second\.handle: more than one handler/,
    );
  });

  it('bad processorDefaults in the module options', async () => {
    for (const [processorDefaults, option] of [
      [{ concurrency: -1 }, 'processorDefaults.concurrency'],
      [{ shareQueue: true }, 'processorDefaults.shareQueue'],
    ] as Array<[ProcessorDefaults, string]>) {
      const error = await bootError({
        imports: [QueueModule.forRoot({ connectionString: db.url, processorDefaults })],
      });
      expect(error).toBeInstanceOf(QueueOptionsError);
      expect((error as QueueOptionsError).option).toBe(option);
    }
  });
});

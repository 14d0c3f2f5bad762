import 'reflect-metadata';
import { type INestApplicationContext, type Provider } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { readFileSync } from 'node:fs';
import { QueueModule, QueueService, type QueueModuleOptions } from '../../src/index.js';
import { type BenchBody } from '../contender.js';

export const QUEUE = 'bench';

export const VERSION = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  }
).version;

/** Boots a Nest application context with QueueModule, as an application would. */
export async function bootContext(
  options: QueueModuleOptions,
  providers: Provider[] = [],
): Promise<INestApplicationContext> {
  class BenchModule {}
  return NestFactory.createApplicationContext(
    {
      module: BenchModule,
      imports: [QueueModule.forRoot({ reaper: false, cleanup: false, ...options })],
      providers,
    },
    { logger: ['error'] },
  );
}

/** Enqueueing is the same for both ways of consuming. */
export class FetchcraftProducer {
  private context: INestApplicationContext | undefined;
  queue!: QueueService;
  url = '';

  async setup(url: string): Promise<void> {
    this.url = url;
    this.context = await bootContext({
      connectionString: url,
      poolMinSize: 4,
      poolMaxSize: 20,
      workers: false,
    });
    this.queue = this.context.get(QueueService);
  }

  async enqueueOne(body: BenchBody): Promise<void> {
    await this.queue.enqueue(QUEUE, body);
  }

  async enqueueBatch(bodies: readonly BenchBody[]): Promise<void> {
    await this.queue.enqueueMany(QUEUE, bodies);
  }

  async remaining(): Promise<number> {
    const stats = await this.queue.getStats();
    const counts = stats.byQueue[QUEUE];
    return counts === undefined ? 0 : counts.ready + counts.leased;
  }

  async close(): Promise<void> {
    await this.context?.close();
  }
}

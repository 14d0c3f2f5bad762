import 'reflect-metadata';
import { type INestApplicationContext, type Provider } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { readFileSync } from 'node:fs';
import { QueueConnection } from '../../src/database/queue-connection.js';
import {
  QueueModule,
  QueueService,
  type EnqueueManyOptions,
  type QueueModuleOptions,
} from '../../src/index.js';
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
  private connection: QueueConnection | undefined;
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
    this.connection = this.context.get(QueueConnection);
  }

  async enqueueOne(body: BenchBody): Promise<void> {
    await this.queue.enqueue(QUEUE, body);
  }

  async enqueueBatch(bodies: readonly BenchBody[]): Promise<void> {
    await this.queue.enqueueMany(QUEUE, bodies);
  }

  /** One enqueueMany, with priority and group given per message when the batch has them. */
  async enqueueFlow(bodies: readonly BenchBody[]): Promise<void> {
    const options: EnqueueManyOptions<BenchBody> = {
      ...(bodies.some((b) => b.p !== undefined) ? { priority: (b: BenchBody) => b.p } : {}),
      ...(bodies.some((b) => b.g !== undefined) ? { groupKey: (b: BenchBody) => b.g } : {}),
    };
    await this.queue.enqueueMany(QUEUE, bodies, options);
  }

  /** Leased messages of the benchmark queue, whichever process holds them. */
  async running(): Promise<number> {
    const result = await this.connection!.query<{ n: number }>('benchRunning', {
      text: `SELECT count(*)::int AS n FROM messages WHERE queue = $1 AND state = 'leased'`,
      values: [QUEUE],
    });
    return result.rows[0]!.n;
  }

  /** Groups with more than one message leased at once: a breach of groupConcurrency 1. */
  async groupsOverLimit(): Promise<number> {
    const result = await this.connection!.query<{ n: number }>('benchGroupsOverLimit', {
      text: `SELECT count(*)::int AS n FROM (
  SELECT group_key FROM messages
  WHERE queue = $1 AND state = 'leased' AND group_key IS NOT NULL
  GROUP BY group_key HAVING count(*) > 1
) AS over`,
      values: [QUEUE],
    });
    return result.rows[0]!.n;
  }

  /** `leased_at`: stamped by rate-limited leases only, and kept once the message is done. */
  async leaseTimes(): Promise<number[]> {
    const result = await this.connection!.query<{ t: number }>('benchLeaseTimes', {
      text: `SELECT (extract(epoch FROM leased_at) * 1000)::float8 AS t FROM messages
WHERE queue = $1 AND leased_at IS NOT NULL ORDER BY leased_at`,
      values: [QUEUE],
    });
    return result.rows.map((row) => row.t);
  }

  /**
   * Ready and leased messages of the benchmark queue, through the partial indexes, counted up to
   * 10,001: exact while the drain nears its end, and cheap to poll (the table keeps done rows).
   */
  async remaining(): Promise<number> {
    const result = await this.connection!.query<{ n: number }>('benchRemaining', {
      text: `SELECT count(*)::int AS n FROM (
  (SELECT 1 FROM messages WHERE queue = $1 AND state = 'ready' LIMIT 10001)
  UNION ALL
  (SELECT 1 FROM messages WHERE queue = $1 AND state = 'leased' LIMIT 10001)
) AS live`,
      values: [QUEUE],
    });
    return result.rows[0]!.n;
  }

  async close(): Promise<void> {
    await this.context?.close();
  }
}

/**
 * Working inside the application's transactions, against the same work done plainly, in one
 * process and on one database, rounds alternating so both see the same server: enqueue inside
 * `dataSource.transaction` (options.manager) against plain enqueue, and a drain whose handlers
 * complete in their transaction (`transaction: true`) against a plain drain.
 */
import { type INestApplicationContext } from '@nestjs/common';
import pg from 'pg';
import { DataSource, type EntityManager } from 'typeorm';
import {
  Processor,
  QueueService,
  type ProcessorMessage,
  type ProcessorOptions,
} from '../src/index.js';
import { type BenchBody } from './contender.js';
import { bootContext, QUEUE } from './contenders/fetchcraft-common.js';
import { type Scenario, type ScenarioResult } from './scenarios.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const bodies = (count: number, offset = 0): BenchBody[] =>
  Array.from({ length: count }, (_, i) => ({ i: offset + i }));
const rate = (count: number, ms: number) => Math.round(count / (ms / 1000));

/** The producer side: the module (no workers) and the application's own DataSource. */
interface Producer {
  readonly queue: QueueService;
  readonly dataSource: DataSource;
  readonly close: () => Promise<void>;
}

async function producer(url: string): Promise<Producer> {
  const context = await bootContext({
    connectionString: url,
    poolMinSize: 4,
    poolMaxSize: 20,
    workers: false,
  });
  const dataSource = new DataSource({ type: 'postgres', url, extra: { max: 4 } });
  await dataSource.initialize();
  return {
    queue: context.get(QueueService),
    dataSource,
    close: async () => {
      await dataSource.destroy();
      await context.close();
    },
  };
}

/**
 * Enqueues `total` messages in calls of `batch`, plainly and inside a transaction of the
 * application's DataSource (one transaction per call), alternating rounds of a tenth each.
 */
function enqueueScenario(batch: number, quickTotal: number, total: number): Scenario {
  return {
    name: `tx.enqueue.batch${batch}`,
    description: `enqueue in calls of ${batch} inside dataSource.transaction (options.manager), one transaction per call; details.plain: the same calls without it`,
    only: ['fetchcraft-processor'],
    async run({ url, quick }): Promise<ScenarioResult> {
      const { queue, dataSource, close } = await producer(url);
      const count = quick ? quickTotal : total;
      const round = Math.max(batch, Math.floor(count / 10 / batch) * batch);
      const send = async (manager?: EntityManager): Promise<void> => {
        const options = manager === undefined ? undefined : { manager };
        if (batch === 1) await queue.enqueue(QUEUE, { i: 0 }, options);
        else await queue.enqueueMany(QUEUE, bodies(batch), options);
      };
      const ms = { plain: 0, transaction: 0 };
      try {
        // Warm both paths: the pool, prepared statements, the manager's identity check.
        await send();
        await dataSource.transaction((manager) => send(manager));
        for (let done = 0; done < count; done += round) {
          let started = performance.now();
          for (let i = 0; i < round; i += batch) await send();
          ms.plain += performance.now() - started;
          started = performance.now();
          for (let i = 0; i < round; i += batch) {
            await dataSource.transaction((manager) => send(manager));
          }
          ms.transaction += performance.now() - started;
        }
      } finally {
        await close();
      }
      const sent = Math.ceil(count / round) * round;
      return compared(rate(sent, ms.plain), rate(sent, ms.transaction), sent);
    },
  };
}

/** Drains `count` ready messages with a no-op handler at concurrency 16, from the first call. */
async function drain(
  url: string,
  queue: QueueService,
  count: number,
  options: ProcessorOptions<BenchBody>,
): Promise<number> {
  for (let offset = 0; offset < count; offset += 1_000) {
    await queue.enqueueMany(QUEUE, bodies(Math.min(1_000, count - offset), offset));
  }
  let handled = 0;
  let started = 0;
  let finished = 0;
  class DrainHandler {
    @Processor(QUEUE, options)
    handle(_message: ProcessorMessage<BenchBody>): void {
      if (handled === 0) started = performance.now();
      handled += 1;
    }
  }
  const workers: INestApplicationContext = await bootContext({ connectionString: url }, [
    DrainHandler,
  ]);
  // Ready and leased messages through the partial indexes, as the other drains count them.
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const deadline = performance.now() + 120_000;
    while (performance.now() < deadline) {
      const { rows } = await client.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM (
  (SELECT 1 FROM messages WHERE queue = $1 AND state = 'ready' LIMIT 1)
  UNION ALL
  (SELECT 1 FROM messages WHERE queue = $1 AND state = 'leased' LIMIT 1)
) AS live`,
        [QUEUE],
      );
      if (rows[0]!.n === 0) {
        finished = performance.now();
        break;
      }
      await sleep(50);
    }
  } finally {
    await client.end();
    await workers.close();
  }
  if (finished === 0) throw new Error(`drained only part of ${count} messages in 120 s`);
  await queue.clearQueue(QUEUE);
  return rate(count, finished - started);
}

export const TRANSACTION_SCENARIOS: readonly Scenario[] = [
  enqueueScenario(1, 1_000, 5_000),
  enqueueScenario(1_000, 10_000, 100_000),
  {
    name: 'tx.drain.c16',
    description:
      'drain ready messages end to end with transaction: true (a transaction per message, the ack committed in it), no-op handler, concurrency 16; details.plain: the same drain without it',
    only: ['fetchcraft-processor'],
    async run({ url, quick }): Promise<ScenarioResult> {
      const { queue, close } = await producer(url);
      const count = quick ? 5_000 : 50_000;
      try {
        // Plain first, then transactional, each on an empty table apart from done rows cleared.
        const plain = await drain(url, queue, count, { concurrency: 16, prefetch: 1_000 });
        const transaction = await drain(url, queue, count, {
          concurrency: 16,
          prefetch: 1_000,
          transaction: true,
        });
        return compared(plain, transaction, count);
      } finally {
        await close();
      }
    },
  },
];

/** A scenario's figure: the rate inside transactions, with the plain rate of the same run. */
function compared(plain: number, transaction: number, messages: number): ScenarioResult {
  return {
    value: transaction,
    unit: 'msg/s',
    details: {
      plain,
      transaction,
      transactionOverPlain: Number((transaction / plain).toFixed(2)),
      messages,
    },
  };
}

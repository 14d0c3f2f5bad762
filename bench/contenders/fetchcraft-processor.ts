import { type INestApplicationContext } from '@nestjs/common';
import { Processor, type ProcessorMessage } from '../../src/index.js';
import { type BenchBody, type Contender } from '../contender.js';
import { bootContext, FetchcraftProducer, QUEUE, VERSION } from './fetchcraft-common.js';

/** The documented throughput setting: lease ahead of free slots (see ProcessorOptions.prefetch). */
const PREFETCH = Number(process.env.BENCH_PREFETCH ?? 1_000);

/** This library the way users run it: a `@Processor` handler in a Nest application context. */
export function createContender(): Contender {
  const producer = new FetchcraftProducer();
  let workers: INestApplicationContext | undefined;
  return {
    info: {
      name: 'fetchcraft-processor',
      version: VERSION,
      settings: `@Processor with concurrency N and prefetch ${PREFETCH} (one leaseMany per refill, acks batched per event-loop turn, one heartbeat statement per worker), NOTIFY wake-ups, default poll 2 s, pool 4-20`,
    },
    setup: (url) => producer.setup(url),
    enqueueOne: (body) => producer.enqueueOne(body),
    enqueueBatch: (bodies) => producer.enqueueBatch(bodies),
    async startWorkers(concurrency, handle) {
      class BenchHandlers {
        @Processor(QUEUE, { concurrency, prefetch: PREFETCH })
        handle(message: ProcessorMessage<BenchBody>): void {
          handle(message.body);
        }
      }
      workers = await bootContext({ connectionString: producer.url }, [BenchHandlers]);
    },
    async stopWorkers() {
      await workers?.close();
      workers = undefined;
    },
    remaining: () => producer.remaining(),
    async teardown() {
      await workers?.close();
      await producer.close();
    },
  };
}

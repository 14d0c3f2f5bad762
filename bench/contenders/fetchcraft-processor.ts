import { type INestApplicationContext } from '@nestjs/common';
import { Registry } from 'prom-client';
import { Processor, type ProcessorMessage, type ProcessorOptions } from '../../src/index.js';
import {
  type BenchBody,
  type Contender,
  type FlowHandler,
  type FlowWorkerOptions,
} from '../contender.js';
import { bootContext, FetchcraftProducer, QUEUE, VERSION } from './fetchcraft-common.js';

/** The documented throughput setting: lease ahead of free slots (see ProcessorOptions.prefetch). */
const PREFETCH = Number(process.env.BENCH_PREFETCH ?? 1_000);
/** `BENCH_METRICS=1` runs the workers with the Prometheus metrics on, to measure what they cost. */
const METRICS = process.env.BENCH_METRICS === '1';

/** How a variant sets up its processor for the plain scenarios. */
interface Variant {
  readonly name: string;
  /** The prefetch it sets; undefined: the processor's default (`'auto'`). */
  readonly prefetch: number | undefined;
  readonly removeOnComplete: boolean;
  readonly describe: string;
}

/** This library the way users run it: a `@Processor` handler in a Nest application context. */
export function createContender(): Contender {
  return processorContender({
    name: 'fetchcraft-processor',
    prefetch: PREFETCH,
    removeOnComplete: false,
    describe: `prefetch ${PREFETCH}`,
  });
}

/** The same at the processor's default options: only `concurrency` is set. */
export function createDefaultsContender(): Contender {
  return processorContender({
    name: 'fetchcraft-defaults',
    prefetch: undefined,
    removeOnComplete: false,
    describe: "default options (prefetch 'auto')",
  });
}

/** The tuned processor with `removeOnComplete`: each completed message deleted at its ack. */
export function createRemovingContender(): Contender {
  return processorContender({
    name: 'fetchcraft-remove',
    prefetch: PREFETCH,
    removeOnComplete: true,
    describe: `prefetch ${PREFETCH} and removeOnComplete (done messages deleted at ack)`,
  });
}

function processorContender(variant: Variant): Contender {
  const producer = new FetchcraftProducer();
  let workers: INestApplicationContext | undefined;

  const start = async (options: ProcessorOptions<BenchBody>, handle: FlowHandler) => {
    class BenchHandlers {
      @Processor(QUEUE, options)
      handle(message: ProcessorMessage<BenchBody>): void | Promise<void> {
        return handle(message.body);
      }
    }
    workers = await bootContext(
      {
        connectionString: producer.url,
        ...(METRICS ? { metrics: { registry: new Registry(), depthIntervalMs: 1_000 } } : {}),
      },
      [BenchHandlers],
    );
  };

  return {
    info: {
      name: variant.name,
      version: VERSION,
      settings: `@Processor with concurrency N and ${variant.describe}${METRICS ? ', Prometheus metrics on' : ''} (one leaseMany per refill, acks batched per event-loop turn, one heartbeat statement per worker), NOTIFY wake-ups, default poll 2 s, pool 4-20; flow scenarios: enqueueMany with priority / groupKey functions, @Processor groupConcurrency / globalConcurrency / rateLimit (prefetch 0 with any of these three, as required)`,
    },
    setup: (url) => producer.setup(url),
    enqueueOne: (body) => producer.enqueueOne(body),
    enqueueBatch: (bodies) => producer.enqueueBatch(bodies),
    startWorkers: (concurrency, handle) =>
      start(
        {
          concurrency,
          ...(variant.prefetch === undefined ? {} : { prefetch: variant.prefetch }),
          ...(variant.removeOnComplete ? { removeOnComplete: true } : {}),
        },
        handle,
      ),
    async stopWorkers() {
      await workers?.close();
      workers = undefined;
    },
    remaining: () => producer.remaining(),
    async teardown() {
      await workers?.close();
      await producer.close();
    },

    flow: {
      unsupported: {},
      enqueueFlow: (bodies) => producer.enqueueFlow(bodies),
      startFlowWorkers: (options, handle) => start(processorOptions(options), handle),
      running: () => producer.running(),
      groupsOverLimit: () => producer.groupsOverLimit(),
      leaseTimes: () => producer.leaseTimes(),
    },
  };
}

/**
 * The limits are counted over leased messages, so a processor with any of them leases only its
 * free slots (prefetch 0, its default then); priority alone keeps the usual prefetch.
 */
function processorOptions(options: FlowWorkerOptions): ProcessorOptions<BenchBody> {
  const { concurrency, groupConcurrency, globalConcurrency, rateLimit } = options;
  const limited =
    groupConcurrency !== undefined || globalConcurrency !== undefined || rateLimit !== undefined;
  return {
    concurrency,
    ...(limited ? {} : { prefetch: PREFETCH }),
    ...(groupConcurrency === undefined ? {} : { groupConcurrency }),
    ...(globalConcurrency === undefined ? {} : { globalConcurrency }),
    ...(rateLimit === undefined ? {} : { rateLimit }),
  };
}

/**
 * What every benchmark contender implements. Each contender runs in its own child process
 * (bench/run-contender.ts) against a fresh database of one shared PostgreSQL server, one
 * contender at a time.
 */

/**
 * The body of every benchmark message. `sentAt` (performance.timeOrigin + now, ms) for latency;
 * `p` and `g` only in the flow-control scenarios (see FlowSupport.enqueueFlow).
 */
export interface BenchBody {
  readonly i: number;
  readonly sentAt?: number;
  /** Priority 0..9, 9 the most urgent; each contender maps it to its own scale. */
  readonly p?: number;
  /** Group (ordering key) of the message. */
  readonly g?: string;
}

/** The flow-control features a scenario needs; a contender lacking one is skipped for it. */
export type FlowFeature = 'priority' | 'groups' | 'globalConcurrency' | 'rateLimit';

/** Worker settings of the flow-control scenarios; an absent one is off. */
export interface FlowWorkerOptions {
  /** Handlers in flight in this process. */
  readonly concurrency: number;
  /** At most this many messages of one group (`g`) running at once. */
  readonly groupConcurrency?: number;
  /** At most this many messages of the queue running at once, across every process. */
  readonly globalConcurrency?: number;
  /** At most `max` messages started per `perSeconds`, across every process. */
  readonly rateLimit?: { readonly max: number; readonly perSeconds: number };
}

/** A handler of the flow-control scenarios; a returned promise is awaited before the ack. */
export type FlowHandler = (body: BenchBody) => void | Promise<void>;

/** What a contender offers for the flow-control scenarios (bench/flow-scenarios.ts). */
export interface FlowSupport {
  /** Why each missing feature is missing (not in this version, a paid edition...). */
  readonly unsupported: Partial<Record<FlowFeature, string>>;
  /** Enqueues in one bulk call, with `p` as the priority and `g` as the group where present. */
  enqueueFlow(bodies: readonly BenchBody[]): Promise<void>;
  /** Like startWorkers, with flow-control settings; stopped by stopWorkers. */
  startFlowWorkers(options: FlowWorkerOptions, handle: FlowHandler): Promise<void>;
  /** Messages of the benchmark queue held by a worker right now, whatever process holds them. */
  running(): Promise<number>;
  /** Groups holding more than one message right now (for the library that enforces groups). */
  groupsOverLimit?(): Promise<number>;
  /** When each message was leased (epoch ms, the database's clock), where the library keeps it. */
  leaseTimes?(): Promise<number[]>;
}

export interface ContenderInfo {
  /** Short name used on the command line and in tables, e.g. `pg-boss`. */
  readonly name: string;
  /** Library version actually loaded. */
  readonly version: string;
  /** The throughput settings used (batch fetch, batched completion, concurrency...), in words. */
  readonly settings: string;
}

export interface Contender {
  readonly info: ContenderInfo;
  /** Connects to `url` (an empty database of its own) and creates the library's schema. */
  setup(url: string): Promise<void>;
  /** Enqueues one message on the benchmark queue, with the library's single-job API. */
  enqueueOne(body: BenchBody): Promise<void>;
  /** Enqueues many messages in one call, with the library's documented bulk API. */
  enqueueBatch(bodies: readonly BenchBody[]): Promise<void>;
  /**
   * Starts consuming the benchmark queue with `concurrency` handlers in flight in total, using
   * the library's documented throughput settings (batch fetch, batched completion...). `handle`
   * is the no-op work; call it once per message, at the start of the handler. Resolves once
   * the workers run.
   */
  startWorkers(concurrency: number, handle: (body: BenchBody) => void): Promise<void>;
  /** Stops the workers started by startWorkers, flushing pending completions. */
  stopWorkers(): Promise<void>;
  /** How many messages of the benchmark queue are not completed yet (queued or in flight). */
  remaining(): Promise<number>;
  /** Closes every connection. */
  teardown(): Promise<void>;
  /** The flow-control scenarios; absent: every one of them is skipped. */
  readonly flow?: FlowSupport;
}

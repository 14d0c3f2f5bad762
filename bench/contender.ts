/**
 * What every benchmark contender implements. Each contender runs in its own child process
 * (bench/run-contender.ts) against a fresh database of one shared PostgreSQL server, one
 * contender at a time.
 */

/** The body of every benchmark message. `sentAt` (performance.timeOrigin + now, ms) for latency. */
export interface BenchBody {
  readonly i: number;
  readonly sentAt?: number;
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
}

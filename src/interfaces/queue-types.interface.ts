/**
 * The message types of your queues, by name: empty here, filled by declaration merging in your
 * application, so that `enqueue`, `@Processor` handlers, `QueueProducer` and `waitFor` agree at
 * compile time. A name that is not declared keeps working untyped (`unknown`).
 *
 * ```ts
 * declare module '@fetchcraft/queue' {
 *   interface QueueTypes {
 *     'ingest.main': { body: IngestDocument; result: { chunks: number } };
 *   }
 * }
 * ```
 *
 * Each entry has a `body` and, optionally, a `result` (what its handler returns, `waitFor`
 * resolves with).
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- filled by declaration merging
export interface QueueTypes {}

/** The shape of one `QueueTypes` entry. */
export interface QueueTypeEntry {
  readonly body: unknown;
  readonly result?: unknown;
}

/** The body type of queue `Q`: its `QueueTypes` entry's, or `Fallback` for an undeclared name. */
export type QueueBody<Q extends string, Fallback = unknown> = string extends Q
  ? Fallback
  : Q extends keyof QueueTypes
    ? QueueTypes[Q] extends { body: infer Body }
      ? Body
      : Fallback
    : Fallback;

/** The result type of queue `Q`'s handler: its `QueueTypes` entry's, or `Fallback`. */
export type QueueResult<Q extends string, Fallback = unknown> = string extends Q
  ? Fallback
  : Q extends keyof QueueTypes
    ? QueueTypes[Q] extends { result: infer Result }
      ? Result
      : Fallback
    : Fallback;

import { type QueueReplica, type ReplicaProcessor } from '../interfaces/queue-replica.interface.js';
import { type QueueSample } from '../interfaces/queue-sample.interface.js';

/** A row of `listSamplesSql`: counts arrive as strings (bigint). */
export interface SampleRow {
  readonly minute: Date;
  readonly queue: string;
  readonly ready: string;
  readonly leased: string;
  readonly failed: string;
  readonly done: string;
  readonly cancelled: string;
  readonly enqueued: string;
  readonly completed: string;
}

/** A row of `listReplicasSql`. */
export interface ReplicaRow {
  readonly id: string;
  readonly application_name: string;
  readonly hostname: string;
  readonly pid: number;
  readonly started_at: Date;
  readonly last_seen_at: Date;
  /** As the replica wrote it: read field by field, since another release may have written it. */
  readonly processors: unknown;
}

export function toQueueSample(row: SampleRow): QueueSample {
  return {
    queue: row.queue,
    minute: row.minute,
    ready: Number(row.ready),
    leased: Number(row.leased),
    failed: Number(row.failed),
    done: Number(row.done),
    cancelled: Number(row.cancelled),
    enqueued: Number(row.enqueued),
    completed: Number(row.completed),
  };
}

export function toQueueReplica(row: ReplicaRow): QueueReplica {
  return {
    id: row.id,
    applicationName: row.application_name,
    hostname: row.hostname,
    pid: row.pid,
    startedAt: row.started_at,
    lastSeenAt: row.last_seen_at,
    processors: toReplicaProcessors(row.processors),
  };
}

/**
 * The processors a replica wrote, each field defaulted when missing or of another type: a row
 * written by another release (or by hand) must not break the page that lists them all.
 */
export function toReplicaProcessors(value: unknown): ReplicaProcessor[] {
  if (!Array.isArray(value)) return [];
  return value
    .filter((item): item is Record<string, unknown> => item !== null && typeof item === 'object')
    .filter((item) => typeof item.queue === 'string')
    .map((item) => ({
      queue: item.queue as string,
      concurrency: wholeOrZero(item.concurrency),
      running: wholeOrZero(item.running),
      paused: item.paused === true,
    }));
}

function wholeOrZero(value: unknown): number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 ? value : 0;
}

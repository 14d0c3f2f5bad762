import { Inject, Injectable } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import { Processor, UnrecoverableError, type ProcessorMessage } from '@fetchcraft/queue';
import { IngestDocument } from './ingest-document.dto.js';

/** What parsing a document produced; a real pipeline would store or index it. */
export interface ParsedDocument {
  readonly url: string;
  readonly title: string;
  readonly words: number;
}

export const INGEST_QUEUE = 'ingest.main';
/** Injection token: milliseconds of simulated work per document (`DEMO_WORK_MS`, default 0). */
export const DEMO_WORK_MS = Symbol('DEMO_WORK_MS');
export const ERROR_QUEUE = 'ingest.error';

/**
 * The demo's pipeline: `ingest.main` parses documents; one that cannot be parsed goes to
 * `ingest.error`, where the second processor records the failure.
 */
@Injectable()
export class IngestProcessor {
  private readonly recent: Array<{ id: string; reason: string }> = [];
  parsed = 0;
  failures = 0;

  constructor(@Inject(DEMO_WORK_MS) private readonly workMs: number) {}

  @Processor(INGEST_QUEUE, {
    concurrency: 8,
    maxAttempts: 3,
    backoff: { type: 'exponential', baseSeconds: 1, maxSeconds: 30 },
    body: IngestDocument,
    deadLetterQueue: ERROR_QUEUE,
  })
  async ingest(message: ProcessorMessage<IngestDocument>): Promise<ParsedDocument> {
    // Stands for fetching and parsing; aborted when the lease is lost or shutdown runs out.
    if (this.workMs > 0) await sleep(this.workMs, undefined, { signal: message.signal });
    const { url, title, content } = message.body;
    if (content.trim() === '' || content.includes('%PDF-CORRUPT')) {
      throw new UnrecoverableError(`cannot parse ${url}: no readable text`);
    }
    const words = content.split(/\s+/).filter(Boolean).length;
    this.parsed += 1;
    return { url, title: title ?? (content.split('\n', 1)[0] ?? '').slice(0, 80), words };
  }

  @Processor(ERROR_QUEUE, { concurrency: 2 })
  recordFailure(message: ProcessorMessage<IngestDocument>): void {
    this.failures += 1;
    const reason = message.lastError?.message ?? 'unknown';
    this.recent.unshift({ id: message.id, reason });
    this.recent.length = Math.min(this.recent.length, 20);
  }

  /** The last failures recorded, newest first. */
  recentFailures(): ReadonlyArray<{ id: string; reason: string }> {
    return this.recent;
  }
}

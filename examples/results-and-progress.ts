import { Inject, Injectable } from '@nestjs/common';
import {
  MessageFailedError,
  Processor,
  QueueService,
  WaitTimeoutError,
  type ProcessorMessage,
} from '@fetchcraft/queue';

interface ResizeJob {
  readonly imageUrl: string;
  readonly sizes: readonly number[];
}

interface ResizeResult {
  readonly thumbnails: readonly string[];
}

@Injectable()
export class ResizeProcessor {
  /** The return value is stored with the message when it is acked: JSON, up to maxBodyBytes. */
  @Processor('images.resize')
  async resize(message: ProcessorMessage<ResizeJob>): Promise<ResizeResult> {
    const thumbnails: string[] = [];
    for (const size of message.body.sizes) {
      thumbnails.push(await makeThumbnail(message.body.imageUrl, size, message.signal));
      // One fenced UPDATE; calls made while one is in flight are coalesced (the last wins).
      // False once this worker no longer holds the message: stop early.
      const held = await message.progress({
        done: thumbnails.length,
        of: message.body.sizes.length,
      });
      if (!held) break;
    }
    return { thumbnails };
  }
}

@Injectable()
export class ResizeClient {
  constructor(@Inject(QueueService) private readonly queue: QueueService) {}

  /** Enqueues a job and waits for its result, whichever replica runs it. */
  async resizeNow(job: ResizeJob): Promise<ResizeResult | undefined> {
    const id = await this.queue.enqueue('images.resize', job);
    try {
      return await this.queue.waitFor<ResizeResult>(id, { timeoutMs: 30_000 });
    } catch (error) {
      if (error instanceof WaitTimeoutError) return undefined; // still running: poll it later
      if (error instanceof MessageFailedError) {
        throw new Error(`resize failed: ${error.lastError?.message ?? 'unknown'}`, {
          cause: error,
        });
      }
      throw error; // MessageCancelledError, MessageDeletedError, a database error
    }
  }

  /** Where a job stands: its state, its last progress, its result once done. */
  async status(id: string) {
    const message = await this.queue.getMessage<ResizeJob, ResizeResult>(id);
    if (message === null) return { state: 'unknown' as const };
    return { state: message.state, progress: message.progress, result: message.result };
  }
}

/** Stands in for real work (an image service); honours the message's signal. */
async function makeThumbnail(url: string, size: number, signal: AbortSignal): Promise<string> {
  const response = await fetch(`${url}?w=${size}`, { method: 'HEAD', signal });
  return response.url;
}

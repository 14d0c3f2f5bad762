import { type QueueService, type StateCounts } from '@fetchcraft/queue';
import { ERROR_QUEUE, INGEST_QUEUE } from './ingest.processor.js';

const BATCH = 1_000;

/**
 * Enqueues `count` demo documents (one in fifty unreadable, to show the dead-letter path) and
 * prints a live progress line until the main queue is drained.
 */
export async function runDemoLoad(
  queue: QueueService,
  count: number,
  out: NodeJS.WriteStream = process.stdout,
): Promise<void> {
  const before = await queue.getStats();
  const doneBefore = before.byQueue[INGEST_QUEUE]?.done ?? 0;
  const failedBefore = total(before.byQueue[ERROR_QUEUE]);
  const started = Date.now();
  for (let offset = 0; offset < count; offset += BATCH) {
    const size = Math.min(BATCH, count - offset);
    await queue.enqueueMany(
      INGEST_QUEUE,
      Array.from({ length: size }, (_, i) => demoDocument(offset + i)),
    );
  }
  out.write(`Enqueued ${count} documents in ${Date.now() - started} ms\n`);
  for (;;) {
    const stats = await queue.getStats();
    const main = stats.byQueue[INGEST_QUEUE];
    const done = (main?.done ?? 0) - doneBefore;
    const failed = total(stats.byQueue[ERROR_QUEUE]) - failedBefore;
    const remaining = (main?.ready ?? 0) + (main?.leased ?? 0);
    const seconds = (Date.now() - started) / 1000;
    const line = `done ${done}  failed ${failed}  remaining ${remaining}  rate ${Math.round(done / Math.max(seconds, 0.001))}/s`;
    if (out.isTTY) out.write(`\r${line.padEnd(72)}`);
    if (remaining === 0) {
      out.write(`${out.isTTY ? '\n' : `${line}\n`}Demo finished in ${seconds.toFixed(1)} s\n`);
      return;
    }
    if (!out.isTTY) out.write(`${line}\n`);
    await new Promise((resolve) => setTimeout(resolve, out.isTTY ? 250 : 1_000));
  }
}

function demoDocument(index: number) {
  const unreadable = index % 50 === 49;
  return {
    url: `https://docs.example.com/${index}.pdf`,
    title: `Document ${index}`,
    content: unreadable
      ? '%PDF-CORRUPT'
      : `Document ${index}\nFetchcraft demo text, ${index % 7} paragraphs of sample content.`,
  };
}

function total(counts: StateCounts | undefined): number {
  return counts === undefined ? 0 : counts.ready + counts.leased + counts.done + counts.failed;
}

import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { describe, expect, it } from '@jest/globals';
import { Injectable } from '@nestjs/common';
import { Processor, type ProcessorMessage } from '../../../src/index.js';
import { useQueueFixture } from '../../support/queue-fixture.js';
import { bootApp, sleep, waitFor } from '../../support/boot.js';
import { tsChildArgs } from '../../support/ts-child.js';

const fixture = useQueueFixture('crash', { shared: { workers: false }, reset: 'none' });
const { db } = fixture;

/** Starts a worker process and resolves with it and its output lines once it is ready. */
async function startWorker(
  env: Record<string, string> = {},
): Promise<{ child: ChildProcess; lines: string[] }> {
  const child = spawn('node', tsChildArgs('test/support/crash-worker.ts'), {
    env: { ...process.env, DATABASE_URL: db.url, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines: string[] = [];
  createInterface({ input: child.stdout }).on('line', (line) => lines.push(line));
  await waitFor(() => lines.includes('ready'), 30_000, 'the worker process');
  return { child, lines };
}

async function killDuringHandler(id: string, attempt: number): Promise<void> {
  const { child, lines } = await startWorker();
  await waitFor(() => lines.includes(`started ${id} ${attempt}`), 10_000, `attempt ${attempt}`);
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

async function reapUntilReturned(): Promise<number> {
  const started = performance.now();
  await waitFor(
    async () => (await fixture.app.queue.reapExpiredLeases()) > 0,
    10_000,
    'the reaper',
  );
  return performance.now() - started;
}

async function stateOf(id: string) {
  const { rows } = await db.query<{ state: string; attempts: number }>(
    'SELECT state, attempts FROM messages WHERE id = $1',
    [id],
  );
  return rows[0]!;
}

describe('a worker process killed with SIGKILL mid-handler', () => {
  it('loses nothing: the message is handled again after its lease expires and is reaped', async () => {
    const id = await fixture.app.queue.enqueue('crash', { n: 1 });
    await killDuringHandler(id, 1);
    expect(await stateOf(id)).toEqual({ state: 'leased', attempts: 1 });
    const waited = await reapUntilReturned();
    process.stdout.write(`crashed lease returned by the reaper after ${waited.toFixed(0)} ms\n`);

    const handled: number[] = [];
    @Injectable()
    class Survivor {
      @Processor('crash', { maxAttempts: 2 })
      handle(message: ProcessorMessage): void {
        handled.push(message.attempts);
      }
    }
    const app = await bootApp({ connectionString: db.url }, [Survivor]);
    try {
      await waitFor(async () => (await stateOf(id)).state === 'done');
      expect(handled).toEqual([2]);
    } finally {
      await app.close();
    }
  });

  it('a message that kills its worker every time ends in the dead letters after maxAttempts', async () => {
    // The lease records maxAttempts, so the reaper settles the last expired attempt as a dead letter.
    const id = await fixture.app.queue.enqueue('crash', { poison: true });
    for (const attempt of [1, 2]) {
      await killDuringHandler(id, attempt);
      await reapUntilReturned();
    }
    const handled: string[] = [];
    @Injectable()
    class Never {
      @Processor('crash', { maxAttempts: 2 })
      handle(message: ProcessorMessage): void {
        handled.push(message.id);
      }
    }
    const app = await bootApp({ connectionString: db.url }, [Never]);
    try {
      await waitFor(async () => (await stateOf(id)).state === 'failed');
      await sleep(100);
      expect(handled).toEqual([]);
      const [dead] = await app.queue.listFailed('crash');
      expect(dead).toMatchObject({ id, attempts: 2 });
      expect(dead!.lastError).toMatchObject({ name: 'AttemptsExhaustedError', attempt: 2 });
    } finally {
      await app.close();
    }
  });
});

describe('a worker process sent SIGTERM mid-handler', () => {
  it('exits on its own after shutdownTimeoutMs and returns the message to ready at once', async () => {
    const id = await fixture.app.queue.enqueue('crash', { n: 'term' });
    const { child, lines } = await startWorker({ SHUTDOWN_TIMEOUT_MS: '500' });
    await waitFor(() => lines.includes(`started ${id} 1`), 10_000, 'the handler');
    const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
      child.once('exit', (code, signal) => resolve({ code, signal })),
    );
    const sent = performance.now();
    child.kill('SIGTERM');
    const exit = await exited;
    const took = performance.now() - sent;
    process.stdout.write(`SIGTERM to exit: ${took.toFixed(0)} ms (shutdownTimeoutMs 500)\n`);
    // Nest re-raises the signal after closing the application.
    expect(exit.signal ?? exit.code).toBe(exit.signal === null ? 0 : 'SIGTERM');
    expect(took).toBeLessThan(5_000);
    expect(await stateOf(id)).toEqual({ state: 'ready', attempts: 1 });
    await fixture.app.queue.deleteMessage(id);
  });
});

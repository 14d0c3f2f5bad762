/**
 * A worker process for the fault suite. It consumes `faults.main` and records, in the database
 * itself, every handler start and finish (table `fault_events`), so the checker can explain every
 * delivery after the fact, whatever happened to this process.
 *
 *   node --import tsx test/faults/support/fault-worker.ts
 *
 * DATABASE_URL: where; FAULT_CONCURRENCY (8), FAULT_LEASE_SECONDS (3), FAULT_WORK_MS (5),
 * FAULT_MAX_ATTEMPTS (5), FAULT_STATEMENT_TIMEOUT_MS (the module's default). FAULT_QUEUE_URL, when
 * set, is where the queue connects (a TCP proxy the suite can silence), while the evidence still
 * goes straight to DATABASE_URL. A body `{ "kind": "kill" }` SIGKILLs this process inside its handler;
 * `{ "kind": "hang" }` blocks the process past its lease on the first attempt.
 */
import 'reflect-metadata';
import { Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import pg from 'pg';
import { Processor, QueueModule, type ProcessorMessage } from '../../../src/index.js';

const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const url = process.env.DATABASE_URL;
if (url === undefined) throw new Error('DATABASE_URL is required');

const events = new pg.Pool({ connectionString: url, max: 4 });
events.on('error', () => undefined);

async function record(message: ProcessorMessage, event: 'start' | 'finish'): Promise<void> {
  // Best effort: while PostgreSQL is down the event is lost, and the checker says so.
  await events
    .query(
      'INSERT INTO fault_events (message_id, event, pid, attempt, lease_token) VALUES ($1, $2, $3, $4, $5)',
      [message.id, event, process.pid, message.attempts, message.leaseToken],
    )
    .catch(() => undefined);
}

interface FaultBody {
  readonly i: number;
  readonly kind?: 'kill' | 'hang';
}

@Injectable()
class FaultHandlers {
  @Processor('faults.main', {
    concurrency: env('FAULT_CONCURRENCY', 8),
    leaseSeconds: env('FAULT_LEASE_SECONDS', 3),
    maxAttempts: env('FAULT_MAX_ATTEMPTS', 5),
    backoff: { type: 'fixed', delaySeconds: 0 },
  })
  async handle(message: ProcessorMessage<FaultBody>): Promise<void> {
    await record(message, 'start');
    if (message.body.kind === 'kill') process.kill(process.pid, 'SIGKILL');
    if (message.body.kind === 'hang' && message.attempts === 1) {
      // Block the event loop (a CPU-bound handler, a long GC pause): no heartbeat can run, so the
      // lease runs out while this process still believes it owns the message.
      Atomics.wait(
        new Int32Array(new SharedArrayBuffer(4)),
        0,
        0,
        env('FAULT_LEASE_SECONDS', 3) * 2_500,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, env('FAULT_WORK_MS', 5)));
    await record(message, 'finish');
  }
}

@Module({
  imports: [
    QueueModule.forRoot({
      connectionString: process.env.FAULT_QUEUE_URL ?? url,
      ...(process.env.FAULT_STATEMENT_TIMEOUT_MS === undefined
        ? {}
        : { statementTimeoutMs: env('FAULT_STATEMENT_TIMEOUT_MS', 0) }),
      poolMinSize: 2,
      poolMaxSize: 6,
      pollIntervalMs: 250,
      connectionTimeoutMs: 2_000,
      reaper: { intervalMs: 1_000 },
      cleanup: false,
    }),
  ],
  providers: [FaultHandlers],
})
class FaultWorkerModule {}

const app = await NestFactory.createApplicationContext(FaultWorkerModule, {
  logger: ['error', 'warn'],
});
app.enableShutdownHooks();
process.on('exit', () => void events.end());
process.stdout.write(`ready ${process.pid}\n`);

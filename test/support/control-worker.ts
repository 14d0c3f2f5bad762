/**
 * A worker process for the pause and cancel tests, on queue QUEUE (default `control`). Its
 * handler prints `started <id> <attempt>`; in MODE=hang (the default) it then waits for its
 * signal, prints `aborted <id> <reason>` and returns (or, with IGNORE_SIGNAL=1, never returns);
 * in MODE=quick it returns at once. It answers `info` on stdin with `info <ProcessorInfo JSON>`.
 * LISTEN=false runs it without the LISTEN connection (polling and heartbeats only);
 * LEASE_SECONDS, CONCURRENCY and PREFETCH set the processor's options. Run with
 * `node --import tsx`; DATABASE_URL says where.
 */
import 'reflect-metadata';
import { createInterface } from 'node:readline';
import { Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import {
  Processor,
  ProcessorRegistry,
  QueueModule,
  type ProcessorMessage,
} from '../../src/index.js';

const env = process.env;
const say = (line: string) => process.stdout.write(`${line}\n`);

@Injectable()
class Controlled {
  @Processor(env.QUEUE ?? 'control', {
    leaseSeconds: Number(env.LEASE_SECONDS ?? 30),
    concurrency: Number(env.CONCURRENCY ?? 1),
    prefetch: Number(env.PREFETCH ?? 0),
  })
  async handle(message: ProcessorMessage): Promise<void> {
    say(`started ${message.id} ${message.attempts}`);
    if (env.MODE === 'quick') return;
    await new Promise<void>((resolve) => {
      message.signal.addEventListener('abort', () => {
        const reason: unknown = message.signal.reason;
        say(`aborted ${message.id} ${reason instanceof Error ? reason.name : String(reason)}`);
        if (env.IGNORE_SIGNAL !== '1') resolve();
      });
    });
  }
}

@Module({
  imports: [
    QueueModule.forRoot({
      connectionString: env.DATABASE_URL,
      poolMinSize: 1,
      poolMaxSize: 4,
      pollIntervalMs: 100,
      listen: env.LISTEN !== 'false',
      migrationsRun: false,
      reaper: false,
      cleanup: false,
      shutdownTimeoutMs: 1_000,
    }),
  ],
  providers: [Controlled],
})
class ControlWorkerModule {}

const app = await NestFactory.createApplicationContext(ControlWorkerModule, { logger: false });
app.enableShutdownHooks();
const registry = app.get(ProcessorRegistry);
createInterface({ input: process.stdin }).on('line', (line) => {
  if (line.trim() === 'info') say(`info ${JSON.stringify(registry.getProcessors()[0])}`);
});
say('ready');

/**
 * A worker process for the crash tests: it handles the `crash` queue with a handler that never
 * finishes, and prints `started <id> <attempt>` when one begins, so the test can SIGKILL it
 * mid-handler (or SIGTERM it). Run with `node --import tsx`; DATABASE_URL says where,
 * SHUTDOWN_TIMEOUT_MS how long a SIGTERM waits for the handler.
 */
import 'reflect-metadata';
import { Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Processor, QueueModule, type ProcessorMessage } from '../../src/index.js';

@Injectable()
class Hangs {
  @Processor('crash', { leaseSeconds: 2, maxAttempts: 2 })
  async handle(message: ProcessorMessage): Promise<void> {
    process.stdout.write(`started ${message.id} ${message.attempts}\n`);
    await new Promise(() => undefined);
  }
}

@Module({
  imports: [
    QueueModule.forRoot({
      connectionString: process.env.DATABASE_URL,
      poolMinSize: 1,
      poolMaxSize: 4,
      pollIntervalMs: 100,
      migrationsRun: false,
      shutdownTimeoutMs: Number(process.env.SHUTDOWN_TIMEOUT_MS ?? 25_000),
    }),
  ],
  providers: [Hangs],
})
class CrashWorkerModule {}

const app = await NestFactory.createApplicationContext(CrashWorkerModule, { logger: false });
app.enableShutdownHooks();
process.stdout.write('ready\n');

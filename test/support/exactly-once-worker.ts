/**
 * A worker process for the exactly-once fault test: a `transaction: true` processor on the
 * `exactly.once` queue whose handler inserts the message's effect through `message.manager`
 * (a table with no unique constraint, so a duplicate would show), and for most messages
 * sleeps 20 to 60 ms inside the transaction, so a SIGKILL often lands mid-transaction.
 * Prints `ready` once started and `begin <id> <attempt>` per handler. Run with
 * `node --import tsx`; DATABASE_URL says where.
 */
import 'reflect-metadata';
import { Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Processor, QueueModule, type TransactionalMessage } from '../../src/index.js';

@Injectable()
class EffectWriter {
  @Processor('exactly.once', { transaction: true, concurrency: 2, leaseSeconds: 2 })
  async handle(message: TransactionalMessage): Promise<void> {
    process.stdout.write(`begin ${message.id} ${message.attempts}\n`);
    await message.manager.query('INSERT INTO effects (message_id) VALUES ($1)', [message.id]);
    if (Math.random() < 0.8) {
      await new Promise((resolve) => setTimeout(resolve, 20 + Math.floor(Math.random() * 40)));
    }
  }
}

@Module({
  imports: [
    QueueModule.forRoot({
      connectionString: process.env.DATABASE_URL,
      poolMaxSize: 8,
      pollIntervalMs: 200,
      migrationsRun: false,
      reaper: { intervalMs: 300 },
      cleanup: false,
      shutdownTimeoutMs: 2_000,
    }),
  ],
  providers: [EffectWriter],
})
class ExactlyOnceWorkerModule {}

const app = await NestFactory.createApplicationContext(ExactlyOnceWorkerModule, { logger: false });
app.enableShutdownHooks();
process.stdout.write('ready\n');

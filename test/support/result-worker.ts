/**
 * A worker process for the results tests: one processor on RESULT_QUEUE (default `results.remote`)
 * whose handler reports progress, waits `body.ms` (default 0), and returns
 * `{ doubled: body.n * 2, pid }`; with `body.fail` it throws an `UnrecoverableError` instead.
 * Prints `ready` once started. Run with `node --import tsx`; DATABASE_URL says where.
 */
import 'reflect-metadata';
import { Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import {
  Processor,
  QueueModule,
  UnrecoverableError,
  type ProcessorMessage,
} from '../../src/index.js';

interface ResultBody {
  readonly n: number;
  readonly ms?: number;
  readonly fail?: boolean;
}

@Injectable()
class Doubler {
  @Processor(process.env.RESULT_QUEUE ?? 'results.remote', {
    concurrency: Number(process.env.RESULT_CONCURRENCY ?? 8),
  })
  async handle(message: ProcessorMessage<ResultBody>): Promise<{ doubled: number; pid: number }> {
    void message.progress({ started: true });
    if (message.body.ms !== undefined) {
      await new Promise((resolve) => setTimeout(resolve, message.body.ms));
    }
    if (message.body.fail === true) throw new UnrecoverableError(`refused ${message.body.n}`);
    return { doubled: message.body.n * 2, pid: process.pid };
  }
}

@Module({
  imports: [
    QueueModule.forRoot({
      connectionString: process.env.DATABASE_URL,
      applicationName: 'result-worker',
      poolMinSize: 1,
      poolMaxSize: 4,
      pollIntervalMs: 100,
      migrationsRun: false,
      reaper: false,
      cleanup: false,
    }),
  ],
  providers: [Doubler],
})
class ResultWorkerModule {}

const app = await NestFactory.createApplicationContext(ResultWorkerModule, { logger: false });
app.enableShutdownHooks();
process.stdout.write('ready\n');

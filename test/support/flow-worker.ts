/**
 * A worker process for the flow-control tests: one processor on FLOW_QUEUE (default `flow`) with
 * the options in FLOW_OPTIONS (JSON `ProcessorOptions`). For each message it prints
 * `start <id> <group> <attempt> <epoch ms>` when its handler begins and `end <id> <group> <epoch ms>`
 * when it resolves; it waits `body.ms` (default HANDLER_MS, 0) first, throws on attempt 1 when
 * `body.failFirst`, and never finishes attempt 1 when `body.hang` (to be SIGKILLed). Run with
 * `node --import tsx`; DATABASE_URL says where.
 */
import 'reflect-metadata';
import { Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import {
  Processor,
  QueueModule,
  type ProcessorMessage,
  type ProcessorOptions,
} from '../../src/index.js';

interface FlowBody {
  readonly ms?: number;
  readonly failFirst?: boolean;
  readonly hang?: boolean;
}

const options = JSON.parse(process.env.FLOW_OPTIONS ?? '{}') as ProcessorOptions;
const defaultMs = Number(process.env.HANDLER_MS ?? 0);
const write = (line: string) => process.stdout.write(`${line}\n`);

@Injectable()
class FlowHandler {
  @Processor(process.env.FLOW_QUEUE ?? 'flow', options)
  async handle(message: ProcessorMessage<FlowBody>): Promise<void> {
    const group = message.groupKey ?? '-';
    write(`start ${message.id} ${group} ${message.attempts} ${Date.now()}`);
    if (message.body.hang === true && message.attempts === 1) await new Promise(() => undefined);
    const ms = message.body.ms ?? defaultMs;
    if (ms > 0) await new Promise((resolve) => setTimeout(resolve, ms));
    if (message.body.failFirst === true && message.attempts === 1) {
      write(`fail ${message.id} ${group} ${Date.now()}`);
      throw new Error('fails on its first attempt');
    }
    write(`end ${message.id} ${group} ${Date.now()}`);
  }
}

@Module({
  imports: [
    QueueModule.forRoot({
      connectionString: process.env.DATABASE_URL,
      poolMaxSize: 6,
      pollIntervalMs: Number(process.env.POLL_INTERVAL_MS ?? 200),
      migrationsRun: false,
      reaper: { intervalMs: 300 },
      shutdownTimeoutMs: 2_000,
    }),
  ],
  providers: [FlowHandler],
})
class FlowWorkerModule {}

const app = await NestFactory.createApplicationContext(FlowWorkerModule, { logger: false });
app.enableShutdownHooks();
write('ready');

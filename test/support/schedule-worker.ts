/**
 * A replica for the recurring-message tests: it declares the schedule `every-second` (cron
 * `* * * * * *`, into SCHEDULE_QUEUE) in its module options and runs no processor. Each time its
 * scheduler enqueues ticks it prints `fired <schedule> <tick epoch ms> <message id>` per tick, so
 * the test can tell which replica enqueued which tick, and that none was enqueued twice. Prints
 * `ready` once booted. Run with `node --import tsx`; DATABASE_URL says where.
 */
import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { QueueModule } from '../../src/index.js';
import { MessageStore } from '../../src/store/message-store.js';

const write = (line: string) => process.stdout.write(`${line}\n`);

// Wrapped before the module boots: the first ticks are enqueued during the bootstrap.
// eslint-disable-next-line @typescript-eslint/unbound-method -- called with its own `this` below
const fire = MessageStore.prototype.fireDueSchedule;
MessageStore.prototype.fireDueSchedule = async function (
  this: MessageStore,
  ...args: Parameters<MessageStore['fireDueSchedule']>
) {
  const fired = await fire.apply(this, args);
  fired?.ticks.forEach((tick, index) => write(`fired ${fired.name} ${tick} ${fired.ids[index]}`));
  return fired;
};

@Module({
  imports: [
    QueueModule.forRoot({
      connectionString: process.env.DATABASE_URL,
      poolMaxSize: 4,
      migrationsRun: true,
      reaper: false,
      cleanup: false,
      applicationName: 'schedule-replica',
      schedules: [
        {
          name: 'every-second',
          queue: process.env.SCHEDULE_QUEUE ?? 'sched.multi',
          cron: '* * * * * *',
          body: { from: 'options' },
          missed: 'skip',
        },
      ],
    }),
  ],
})
class ScheduleWorkerModule {}

const app = await NestFactory.createApplicationContext(ScheduleWorkerModule, { logger: false });
app.enableShutdownHooks();
write('ready');

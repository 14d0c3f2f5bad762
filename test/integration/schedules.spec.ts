import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from '@jest/globals';
import { Injectable } from '@nestjs/common';
import {
  Processor,
  QueueDatabaseError,
  QueueProcessorError,
  QueueModule,
  QueueValidationError,
  RecurringMessage,
  scheduledTickOf,
  type ProcessorMessage,
  type QueueService,
  type MissedTicksPolicy,
  type ScheduleDeclaration,
} from '../../src/index.js';
import { CronSchedule } from '../../src/schedule/cron-ticks.js';
import { RecurringScheduler } from '../../src/schedule/recurring-scheduler.js';
import { MessageStore } from '../../src/store/message-store.js';
import { bootError, waitFor } from '../support/boot.js';
import { eventually } from '../support/eventually.js';
import { stopProcess } from '../support/flow-workers.js';
import { useQueueFixture } from '../support/queue-fixture.js';
import { tsChildArgs } from '../support/ts-child.js';

const { db, boot } = useQueueFixture('schedules', { reset: 'none' });

const HOUR = 3_600_000;

afterEach(async () => {
  // Each test starts from no schedule and no message, on migrated tables.
  await db.query('DELETE FROM messages_schedules').catch(() => undefined);
  await db.query('TRUNCATE messages').catch(() => undefined);
});

/** The messages of `queue`, oldest tick first, with the tick their key names. */
async function messagesOf(queue: string) {
  const { rows } = await db.query<{ id: string; body: unknown; unique_key: string | null }>(
    'SELECT id, body, unique_key FROM messages WHERE queue = $1 ORDER BY unique_key',
    [queue],
  );
  return rows
    .map((row) => ({ ...row, tick: scheduledTickOf({ uniqueKey: row.unique_key }) }))
    .sort((a, b) => (a.tick?.tickAt.getTime() ?? 0) - (b.tick?.tickAt.getTime() ?? 0));
}

async function scheduleRow(name: string) {
  const { rows } = await db.query<{
    next_tick_at: Date;
    last_tick_at: Date | null;
    source: string;
    owner: string | null;
  }>('SELECT next_tick_at, last_tick_at, source, owner FROM messages_schedules WHERE name = $1', [
    name,
  ]);
  return rows[0];
}

async function databaseNow(): Promise<number> {
  const { rows } = await db.query<{ now: Date }>('SELECT now() AS now');
  return rows[0]!.now.getTime();
}

describe('schedules added, listed and removed at run time', () => {
  it('enqueues one message per tick with the body and the tick in its key, until unscheduled', async () => {
    const app = await boot({ connectionString: db.url });
    await app.queue.schedule('every-second', {
      queue: 'sched.api',
      cron: '* * * * * *',
      body: { report: 'pulse' },
      enqueueOptions: { priority: 3 },
    });
    const [listed] = await app.queue.listSchedules();
    expect(listed).toMatchObject({
      name: 'every-second',
      queue: 'sched.api',
      cron: '* * * * * *',
      timeZone: 'UTC',
      body: { report: 'pulse' },
      enqueueOptions: { priority: 3 },
      missed: 'once',
      source: 'api',
      lastTickAt: null,
    });
    const now = await databaseNow();
    expect(listed!.nextTickAt.getTime()).toBeGreaterThan(now - 10_000);
    expect(listed!.nextTickAt.getTime()).toBeLessThanOrEqual(now + 1_000);

    await waitFor(async () => (await messagesOf('sched.api')).length >= 3, 20_000, '3 ticks');
    expect(await app.queue.unschedule('every-second')).toBe(true);
    const enqueued = await messagesOf('sched.api');
    const ticks = enqueued.map((message) => message.tick!.tickAt.getTime());
    // Consecutive seconds, one message each, every body as given.
    ticks.slice(1).forEach((tick, index) => expect(tick - ticks[index]!).toBe(1_000));
    for (const message of enqueued) {
      expect(message.body).toEqual({ report: 'pulse' });
      expect(message.tick!.schedule).toBe('every-second');
    }
    const { rows } = await db.query<{ priority: number }>(
      "SELECT DISTINCT priority FROM messages WHERE queue = 'sched.api'",
    );
    expect(rows).toEqual([{ priority: 3 }]);

    // Nothing after the unschedule resolved.
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    expect(await messagesOf('sched.api')).toHaveLength(enqueued.length);
    expect(await app.queue.listSchedules()).toEqual([]);
    expect(await app.queue.unschedule('every-second')).toBe(false);
  });

  it('lists the last tick once it ticked, and a processor reads its tick with scheduledTickOf', async () => {
    const seen: { schedule: string; tickAt: Date }[] = [];
    @Injectable()
    class Pulse {
      @Processor('sched.pulse')
      handle(message: ProcessorMessage): void {
        const tick = scheduledTickOf(message);
        if (tick !== null) seen.push(tick);
      }
    }
    const app = await boot({ connectionString: db.url }, [Pulse]);
    await app.queue.schedule('pulse', { queue: 'sched.pulse', cron: '* * * * * *' });
    await waitFor(() => seen.length >= 2, 20_000, 'two handled ticks');
    const [listed] = await app.queue.listSchedules();
    expect(listed!.lastTickAt).not.toBeNull();
    expect(listed!.nextTickAt.getTime()).toBeGreaterThan(listed!.lastTickAt!.getTime());
    expect(seen[0]!.schedule).toBe('pulse');
    expect(seen[1]!.tickAt.getTime() - seen[0]!.tickAt.getTime()).toBe(1_000);
  });

  it('keeps the next tick when replaced with the same expression, and moves it for another', async () => {
    const app = await boot({ connectionString: db.url });
    await app.queue.schedule('daily', { queue: 'sched.replace', cron: '0 0 3 * * *' });
    const far = new Date('2099-01-01T03:00:00Z');
    await db.query('UPDATE messages_schedules SET next_tick_at = $1 WHERE name = $2', [
      far,
      'daily',
    ]);
    await app.queue.schedule('daily', {
      queue: 'sched.replace',
      cron: '0 0 3 * * *',
      body: { changed: true },
    });
    expect((await scheduleRow('daily'))!.next_tick_at).toEqual(far);
    expect((await app.queue.listSchedules())[0]!.body).toEqual({ changed: true });

    await app.queue.schedule('daily', {
      queue: 'sched.replace',
      cron: '0 0 3 * * *',
      timeZone: 'Europe/Paris',
    });
    const expected = new CronSchedule('0 0 3 * * *', 'Europe/Paris').nextAfter(await databaseNow());
    expect((await scheduleRow('daily'))!.next_tick_at.getTime()).toBe(expected);
  });

  it('refuses a bad cron expression or time zone with a QueueValidationError naming it', async () => {
    const app = await boot({ connectionString: db.url });
    const refused = async (options: object) =>
      app.queue.schedule('bad', { queue: 'q', cron: '* * * * *', ...options }).then(
        () => undefined,
        (error: unknown) => error,
      );
    expect(await refused({ cron: '* * 32 * *' })).toMatchObject({
      constructor: QueueValidationError,
      field: 'options.cron',
    });
    expect(await refused({ timeZone: 'Europe/Atlantis' })).toMatchObject({
      constructor: QueueValidationError,
      field: 'options.timeZone',
    });
    expect(await refused({ missed: { backfill: -1 } })).toMatchObject({
      field: 'options.missed.backfill',
    });
    expect(await app.queue.listSchedules()).toEqual([]);
  });

  it('a schedule whose row cannot be run (written by hand) is set aside and holds back no other', async () => {
    const app = await boot({ connectionString: db.url });
    const past = new Date((await databaseNow()) - 10_000);
    await db.query(
      `INSERT INTO messages_schedules (name, queue, cron, time_zone, body, missed, source, next_tick_at)
       VALUES ('broken', 'sched.broken', 'every tuesday', 'UTC', 'null', 'once', 'api', $1)`,
      [past],
    );
    await app.queue.schedule('healthy', { queue: 'sched.healthy', cron: '* * * * * *' });
    await waitFor(async () => (await messagesOf('sched.healthy')).length >= 2, 20_000, 'ticks');
    expect(await messagesOf('sched.broken')).toEqual([]);
    expect((await scheduleRow('broken'))!.next_tick_at).toEqual(past);
  });

  it('a schedule added on another replica is run at once by one that hears the notification', async () => {
    @Injectable()
    class Listens {
      // A processor makes this replica LISTEN, and so hear the control channel.
      @Processor('sched.unrelated')
      handle(): void {}
    }
    const listening = await boot({ connectionString: db.url }, [Listens]);
    // It has no schedule yet: it sleeps the longest sleep (30 s) without a notification.
    expect(await listening.queue.listSchedules()).toEqual([]);
    const store = listening.get(MessageStore);
    const fire = store.fireDueSchedule.bind(store);
    const firedHere: number[] = [];
    store.fireDueSchedule = async (...args) => {
      const fired = await fire(...args);
      if (fired !== null) firedHere.push(...fired.ticks);
      return fired;
    };
    const other = await boot({ connectionString: db.url, applicationName: 'other-replica' });
    await other.queue.schedule('from-other', { queue: 'sched.other', cron: '* * * * * *' });
    const started = Date.now();
    await other.close();
    // Well before its 30 s sleep ends, the listening replica enqueues ticks itself.
    await waitFor(() => firedHere.length > 0, 20_000, 'a tick enqueued by the listening replica');
    expect(Date.now() - started).toBeLessThan(20_000);
  });
});

describe('schedules declared in code', () => {
  const hourly: ScheduleDeclaration = {
    name: 'opt-hourly',
    queue: 'sched.opt',
    cron: '0 0 * * * *',
    timeZone: 'Europe/Paris',
    body: { from: 'options' },
  };

  @Injectable()
  class Reports {
    @RecurringMessage('dec-nightly', {
      cron: '0 30 2 * * *',
      timeZone: 'Europe/Paris',
      body: { from: 'decorator' },
      missed: { backfill: 2 },
    })
    @Processor('sched.dec')
    handle(): void {}
  }

  it('are upserted at boot; a changed cron moves the next tick; undeclared ones are deleted, API ones kept', async () => {
    const first = await boot({ connectionString: db.url, schedules: [hourly] }, [Reports]);
    await first.queue.schedule('api-kept', { queue: 'sched.api', cron: '0 0 1 1 *' });
    const listed = await first.queue.listSchedules();
    expect(listed.map((s) => [s.name, s.source, s.queue])).toEqual([
      ['api-kept', 'api', 'sched.api'],
      ['dec-nightly', 'code', 'sched.dec'],
      ['opt-hourly', 'code', 'sched.opt'],
    ]);
    const nightly = listed.find((s) => s.name === 'dec-nightly')!;
    expect(nightly).toMatchObject({
      timeZone: 'Europe/Paris',
      body: { from: 'decorator' },
      missed: { backfill: 2 },
    });
    const now = await databaseNow();
    expect(nightly.nextTickAt.getTime()).toBe(
      new CronSchedule('0 30 2 * * *', 'Europe/Paris').nextAfter(now - 60_000),
    );
    await first.close();

    // The same expression keeps its next tick through a redeploy.
    const kept = new Date(Date.now() + 5 * HOUR);
    kept.setUTCMinutes(0, 0, 0);
    await db.query("UPDATE messages_schedules SET next_tick_at = $1 WHERE name = 'opt-hourly'", [
      kept,
    ]);
    const second = await boot({ connectionString: db.url, schedules: [hourly] }, [Reports]);
    expect((await scheduleRow('opt-hourly'))!.next_tick_at).toEqual(kept);
    await second.close();

    // Without the decorator, and with another expression for the option's schedule.
    const third = await boot({
      connectionString: db.url,
      schedules: [{ ...hourly, cron: '0 15 * * * *' }],
    });
    const after = await third.queue.listSchedules();
    expect(after.map((s) => s.name)).toEqual(['api-kept', 'opt-hourly']);
    const moved = after.find((s) => s.name === 'opt-hourly')!;
    expect(moved.cron).toBe('0 15 * * * *');
    expect(moved.nextTickAt.getUTCMinutes() % 15).toBe(0);
    expect(moved.nextTickAt.getTime()).toBe(
      new CronSchedule('0 15 * * * *', 'Europe/Paris').nextAfter(moved.updatedAt.getTime() - 1_000),
    );
  });

  it("another application's code-declared schedules are left alone", async () => {
    const one = await boot({
      connectionString: db.url,
      applicationName: 'service-one',
      schedules: [hourly],
    });
    await one.close();
    await boot({ connectionString: db.url, applicationName: 'service-two', schedules: [] });
    expect(await scheduleRow('opt-hourly')).toMatchObject({ source: 'code', owner: 'service-one' });
  });

  it('a @RecurringMessage without a @Processor on its method stops the boot', async () => {
    @Injectable()
    class Orphan {
      @RecurringMessage('orphan', { cron: '* * * * *' })
      handle(): void {}
    }
    const error = await bootError({
      imports: [QueueModule.forRoot({ connectionString: db.url })],
      providers: [Orphan],
    });
    expect(error).toBeInstanceOf(QueueProcessorError);
    expect(String(error)).toMatch(/needs a @Processor/);
  });

  it('a @RecurringMessage with a bad time zone stops the boot, naming the field', async () => {
    @Injectable()
    class BadZone {
      @RecurringMessage('bad-zone', { cron: '* * * * *', timeZone: 'Paris' })
      @Processor('sched.bad')
      handle(): void {}
    }
    const error = await bootError({
      imports: [QueueModule.forRoot({ connectionString: db.url })],
      providers: [BadZone],
    });
    expect(error).toBeInstanceOf(QueueProcessorError);
    expect(String(error)).toMatch(/options\.timeZone/);
  });
});

describe('a table migrated without the schedules table (migrationsRun: false)', () => {
  it('boots without recurring messages when none is declared, and refuses to boot when one is', async () => {
    const first = await boot({ connectionString: db.url, schema: 'legacy' });
    await first.close();
    await db.query('DROP TABLE legacy.messages_schedules');
    const plain = await boot({ connectionString: db.url, schema: 'legacy', migrationsRun: false });
    await plain.queue.enqueue('legacy.q', { ok: true });
    await plain.close();

    const error = await boot({
      connectionString: db.url,
      schema: 'legacy',
      migrationsRun: false,
      applicationName: 'legacy-declared',
      schedules: [{ name: 'needs-table', queue: 'legacy.q', cron: '0 0 * * *' }],
    }).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toMatchObject({ constructor: QueueDatabaseError, code: '42P01' });
    // Like a failed migration, a failed boot leaves no connection behind.
    expect(await eventually(() => db.connectionsOf('legacy-declared'), 0)).toBe(0);
  });
});

describe('ticks missed while every replica was down', () => {
  /**
   * An hourly schedule whose ticks are half an hour away from now, so that none is within the
   * late tolerance; its row is put back five hours, as if no replica had run since.
   */
  async function behindFiveHours(queue: QueueService, name: string, missed: MissedTicksPolicy) {
    const now = await databaseNow();
    const minute = (new Date(now).getUTCMinutes() + 30) % 60;
    const cron = `0 ${minute} * * * *`;
    await queue.schedule(name, { queue: `sched.${name}`, cron, missed });
    const next = new CronSchedule(cron, 'UTC').nextAfter(now);
    const latest = next - HOUR;
    await db.query('UPDATE messages_schedules SET next_tick_at = $1 WHERE name = $2', [
      new Date(latest - 5 * HOUR),
      name,
    ]);
    return { latest, next };
  }

  const tickTimes = async (queue: string) =>
    (await messagesOf(queue)).map((message) => message.tick!.tickAt.getTime());

  it("'skip' enqueues none and goes on from the next future tick", async () => {
    const app = await boot({ connectionString: db.url });
    const { next } = await behindFiveHours(app.queue, 'skip', 'skip');
    app.get(RecurringScheduler).wake();
    await waitFor(
      async () => (await scheduleRow('skip'))!.next_tick_at.getTime() === next,
      10_000,
      'the schedule to move on',
    );
    expect(await tickTimes('sched.skip')).toEqual([]);
    expect((await scheduleRow('skip'))!.last_tick_at).toBeNull();
  });

  it("'once' enqueues one message, for the latest missed tick", async () => {
    const app = await boot({ connectionString: db.url });
    const { latest, next } = await behindFiveHours(app.queue, 'once', 'once');
    app.get(RecurringScheduler).wake();
    await waitFor(async () => (await tickTimes('sched.once')).length > 0, 10_000, 'a message');
    await waitFor(
      async () => (await scheduleRow('once'))!.next_tick_at.getTime() === next,
      10_000,
      'the schedule to move on',
    );
    expect(await tickTimes('sched.once')).toEqual([latest]);
    expect((await scheduleRow('once'))!.last_tick_at!.getTime()).toBe(latest);
  });

  it('{ backfill: 3 } enqueues the latest three missed ticks, one message each', async () => {
    const app = await boot({ connectionString: db.url });
    const { latest, next } = await behindFiveHours(app.queue, 'backfill', { backfill: 3 });
    app.get(RecurringScheduler).wake();
    await waitFor(async () => (await tickTimes('sched.backfill')).length >= 3, 10_000, '3');
    await waitFor(
      async () => (await scheduleRow('backfill'))!.next_tick_at.getTime() === next,
      10_000,
      'the schedule to move on',
    );
    expect(await tickTimes('sched.backfill')).toEqual([latest - 2 * HOUR, latest - HOUR, latest]);
  });
});

describe('three replicas running one every-second schedule', () => {
  const children: ChildProcess[] = [];
  afterEach(async () => {
    await Promise.all(children.splice(0).map((child) => stopProcess(child)));
  });

  it('enqueue exactly one message per tick, and miss none while they run', async () => {
    const fired: { replica: number; tick: number; id: string }[] = [];
    let ready = 0;
    for (let replica = 0; replica < 3; replica++) {
      const child = spawn('node', tsChildArgs('test/support/schedule-worker.ts'), {
        env: { ...process.env, DATABASE_URL: db.url, SCHEDULE_QUEUE: 'sched.multi' },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      children.push(child);
      createInterface({ input: child.stdout }).on('line', (line) => {
        const [kind, , tick, id] = line.split(' ');
        if (kind === 'ready') ready += 1;
        if (kind === 'fired') fired.push({ replica, tick: Number(tick), id: id! });
      });
    }
    await waitFor(() => ready === 3, 120_000, 'three replicas');
    const readyAt = await databaseNow();
    // Seven ticks with all three running.
    await waitFor(
      () => fired.filter((f) => f.tick > readyAt).length >= 7,
      60_000,
      'seven ticks with three replicas',
    );
    await Promise.all(children.splice(0).map((child) => stopProcess(child)));

    const enqueued = await messagesOf('sched.multi');
    const ticks = enqueued.map((message) => message.tick!.tickAt.getTime());
    // One message per tick (ids are distinct), on consecutive seconds: none missing.
    expect(new Set(enqueued.map((message) => message.id)).size).toBe(enqueued.length);
    expect(new Set(ticks).size).toBe(ticks.length);
    ticks.slice(1).forEach((tick, index) => expect(tick - ticks[index]!).toBe(1_000));
    expect(ticks.filter((tick) => tick > readyAt).length).toBeGreaterThanOrEqual(7);
    // Each tick was enqueued by one replica's transaction only: never attempted twice.
    expect(fired.map((f) => f.tick).sort((a, b) => a - b)).toEqual(ticks);
    expect(new Set(fired.map((f) => f.id)).size).toBe(fired.length);
    for (const message of enqueued) expect(message.body).toEqual({ from: 'options' });
  });
});

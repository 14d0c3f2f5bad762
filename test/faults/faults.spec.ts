/**
 * The fault suite: real worker processes against a PostgreSQL of the suite's own, faults injected
 * while messages flow, and a checker that proves, from what the database recorded, that nothing
 * accepted was lost, every extra delivery is explained, and no acked message came back.
 *
 * FAULT_SCALE=full (npm run test:faults:full) runs the long version by hand; the default is the
 * few-minute version that .ci/run runs. Figures are printed as `[fault] {...}` lines.
 *
 * This file: processes killed or stopped, and the server restarted under them. The other faults
 * (connections, locks, handlers, pools) are in faults-contention.spec.ts, so that jest runs the
 * two halves side by side instead of one three-minute file after the shorter ones.
 */
import { describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { sleep } from '../support/boot.js';
import { startWorker } from './support/fault-cluster.js';
import {
  enqueueAll,
  faultPostgres,
  nextAckMs,
  scale,
  settled,
  useFaultPostgres,
  verify,
  withFaultRun,
} from './support/fault-runs.js';

useFaultPostgres();

describe('faults', () => {
  it(
    '1. SIGKILL of random workers while messages flow; replacements start',
    () =>
      withFaultRun(3, { FAULT_WORK_MS: '2' }, async (run) => {
        const ids = await enqueueAll(run, scale(5_000, 20_000));
        const started = performance.now();
        let kills = 0;
        const flowing = settled(run.url, ids, scale(120_000, 600_000));
        let done = false;
        void flowing.finally(() => (done = true));
        while (!done && kills < scale(4, 12)) {
          await sleep(1_500);
          const victim = run.workers.splice(Math.floor(Math.random() * run.workers.length), 1)[0]!;
          run.killed.add(victim.pid);
          victim.child.kill('SIGKILL');
          await victim.exited;
          kills += 1;
          run.workers.push(await startWorker(run.url, { FAULT_WORK_MS: '2' }));
        }
        await flowing;
        const seconds = (performance.now() - started) / 1000;
        await verify(run, 'sigkill', ids, { kills, seconds: Number(seconds.toFixed(1)) });
      }),
    700_000,
  );

  it(
    '2. SIGTERM mid-flow: in-flight work finishes or is returned, nothing waits for a lease',
    () =>
      withFaultRun(2, { FAULT_WORK_MS: '300', FAULT_LEASE_SECONDS: '60' }, async (run) => {
        const ids = await enqueueAll(run, scale(400, 2_000));
        await sleep(1_000);
        const victim = run.workers[0]!;
        const sent = performance.now();
        victim.child.kill('SIGTERM');
        const exit = await victim.exited;
        const exitMs = performance.now() - sent;
        // Nothing of the stopped worker may stay leased: with a 60 s lease, that would be a wait.
        const client = new pg.Client({ connectionString: run.url });
        await client.connect();
        const { rows } = await client.query<{ n: string }>(
          `SELECT count(*) AS n FROM messages m
         WHERE m.state = 'leased' AND m.lease_token IN (
           SELECT lease_token FROM fault_events WHERE pid = $1 AND event = 'start')`,
          [victim.pid],
        );
        await client.end();
        expect(Number(rows[0]!.n)).toBe(0);
        expect(exit.signal ?? exit.code).toBeDefined();
        const waited = await settled(run.url, ids, scale(60_000, 300_000));
        const checked = await verify(run, 'sigterm', ids, {
          exitMs: Math.round(exitMs),
          drainedAfterMs: Math.round(waited),
        });
        expect(checked.duplicates).toBe(0);
      }),
    400_000,
  );

  it.each(['fast', 'immediate'] as const)(
    '3. PostgreSQL restarted (%s shutdown) mid-flow: workers reconnect on their own',
    (mode) =>
      withFaultRun(2, { FAULT_WORK_MS: '5' }, async (run) => {
        const ids = await enqueueAll(run, scale(3_000, 20_000));
        await sleep(1_000);
        const downMs = await faultPostgres().restart(mode, 1_500);
        const recoveredMs = await nextAckMs(run.url, 60_000);
        const drainedMs = await settled(run.url, ids, scale(120_000, 600_000));
        for (const worker of run.workers) expect(worker.child.exitCode).toBeNull();
        await verify(run, `postgres-restart-${mode}`, ids, {
          downMs: Math.round(downMs),
          firstAckAfterRestartMs: Math.round(recoveredMs),
          drainedAfterMs: Math.round(recoveredMs + drainedMs),
        });
      }),
    700_000,
  );

  it(
    '3b. a long PostgreSQL outage (20 s): leasing resumes when the database answers, not after the backoff',
    () =>
      withFaultRun(2, { FAULT_WORK_MS: '5' }, async (run) => {
        const ids = await enqueueAll(run, scale(3_000, 20_000));
        await sleep(1_000);
        // 20 s of failed leases back the fetch loops off to waits of 16 s; the LISTEN connection,
        // back within 2 s of the restart, must end that wait.
        const downMs = await faultPostgres().restart('fast', 20_000);
        const recoveredMs = await nextAckMs(run.url, 60_000);
        const drainedMs = await settled(run.url, ids, scale(120_000, 600_000));
        for (const worker of run.workers) expect(worker.child.exitCode).toBeNull();
        await verify(run, 'postgres-long-outage', ids, {
          downMs: Math.round(downMs),
          firstAckAfterRestartMs: Math.round(recoveredMs),
          drainedAfterMs: Math.round(recoveredMs + drainedMs),
        });
        expect(recoveredMs).toBeLessThan(8_000);
      }),
    700_000,
  );
});

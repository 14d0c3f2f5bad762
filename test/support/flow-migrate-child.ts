/**
 * A process that migrates the queue table for the flow-control tests and stops for good after a
 * step of preparing it: prints `step <name>` after each, then `paused` after `KILL_AFTER`, so the
 * test can SIGKILL it there. Run with `node --import tsx`; DATABASE_URL says where.
 */
import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { queueTableNames } from '../../src/config/identifier-rules.js';
import { runQueueMigrations } from '../../src/database/migration-runner.js';

const dataSource = new DataSource({
  type: 'postgres',
  url: process.env.DATABASE_URL,
  extra: { max: 2 },
});
await dataSource.initialize();
let paused = false;
await runQueueMigrations(dataSource, queueTableNames('public', 'messages'), {
  lockTimeoutMs: 5_000,
  onFlowControlStep: (step) => {
    if (paused) return;
    process.stdout.write(`step ${step}\n`);
    if (step !== process.env.KILL_AFTER) return;
    paused = true;
    process.stdout.write('paused\n');
    // Blocks the event loop, and with it the migration, until the SIGKILL.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
  },
});
process.stdout.write('done\n');
await dataSource.destroy();

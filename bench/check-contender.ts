/**
 * Smoke check for one contender adapter: node --import tsx bench/check-contender.ts <name>
 * Starts an embedded PostgreSQL (or uses DATABASE_URL), enqueues 10 single and 1,000 batched
 * messages, drains them at concurrency 16, and checks each was handled exactly once.
 */
import 'reflect-metadata';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedServer } from '../dev/embedded-postgres.js';
import { createBenchDatabase } from './bench-database.js';
import { type BenchBody } from './contender.js';
import { loadContender } from './contenders/index.js';

const name = process.argv[2] ?? 'fetchcraft-processor';
const dir = mkdtempSync(join(tmpdir(), 'bench-check-'));
const server = process.env.DATABASE_URL
  ? undefined
  : await startEmbeddedServer({ dataDir: join(dir, 'data'), persistent: false });
const adminUrl = process.env.DATABASE_URL ?? server!.url;
const database = await createBenchDatabase(
  adminUrl,
  `check_${name.replace(/\W/g, '_')}_${Date.now()}`,
);

const contender = await loadContender(name);
console.log(contender.info);
let t = performance.now();
await contender.setup(database.url);
console.log(`setup ${(performance.now() - t).toFixed(0)} ms`);
t = performance.now();
for (let i = 0; i < 10; i++) await contender.enqueueOne({ i });
console.log(`10 single enqueues ${(performance.now() - t).toFixed(0)} ms`);
t = performance.now();
await contender.enqueueBatch(Array.from({ length: 1000 }, (_, i): BenchBody => ({ i: 10 + i })));
console.log(`batch of 1000 ${(performance.now() - t).toFixed(0)} ms`);
console.log(`remaining before drain: ${await contender.remaining()}`);
const seen = new Map<number, number>();
t = performance.now();
await contender.startWorkers(16, (body) => seen.set(body.i, (seen.get(body.i) ?? 0) + 1));
while ((await contender.remaining()) > 0) await new Promise((r) => setTimeout(r, 20));
const elapsed = performance.now() - t;
await contender.stopWorkers();
const duplicates = [...seen.values()].filter((n) => n > 1).length;
console.log(
  `drained 1010 in ${elapsed.toFixed(0)} ms (${Math.round(1010 / (elapsed / 1000))}/s); handled ${seen.size} distinct, ${duplicates} duplicates`,
);
await contender.teardown();
await database.drop();
await server?.stop();
rmSync(dir, { recursive: true, force: true });
if (seen.size !== 1010 || duplicates > 0) {
  console.error('FAILED: not every message handled exactly once');
  process.exit(1);
}
console.log('OK');

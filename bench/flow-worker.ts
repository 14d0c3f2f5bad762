/**
 * One worker process of a multi-process flow scenario (bench/flow-scenarios.ts): connects a
 * contender to an existing benchmark database, starts its flow workers with no-op handlers,
 * prints READY, then `FIRST <epoch ms>` at its first handler start. Stops when stdin closes
 * (the parent ends it, or died).
 *
 *   node --import tsx bench/flow-worker.ts <contender> <database-url> <FlowWorkerOptions json>
 */
import 'reflect-metadata';
import { type FlowWorkerOptions } from './contender.js';
import { loadContender } from './contenders/index.js';

const [name, url, json] = process.argv.slice(2);
if (name === undefined || url === undefined || json === undefined) {
  throw new Error('usage: flow-worker.ts <contender> <database-url> <options json>');
}
const options = JSON.parse(json) as FlowWorkerOptions;
const contender = await loadContender(name);
if (contender.flow === undefined) throw new Error(`${name} has no flow support`);

const stopped = new Promise<void>((resolve) => {
  process.stdin.on('end', resolve);
  process.stdin.on('close', resolve);
  process.stdin.resume();
});
await contender.setup(url);
let first = true;
await contender.flow.startFlowWorkers(options, () => {
  if (first) {
    first = false;
    process.stdout.write(`FIRST ${performance.timeOrigin + performance.now()}\n`);
  }
});
process.stdout.write('READY\n');
await stopped;
await contender.stopWorkers();
await contender.teardown();
process.exit(0);

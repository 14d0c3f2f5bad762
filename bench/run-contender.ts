/**
 * Runs one scenario once for one contender, in a process of its own, on a fresh database, and
 * prints `RESULT <json>`. Driven by bench/run.ts.
 *
 *   node --import tsx bench/run-contender.ts <contender> <scenario> <admin-url> [--quick]
 */
import 'reflect-metadata';
import { createBenchDatabase } from './bench-database.js';
import { loadContender } from './contenders/index.js';
import { FLOW_SCENARIOS } from './flow-scenarios.js';
import { OWN_SCENARIOS } from './own-scenarios.js';
import { TRANSACTION_SCENARIOS } from './transaction-scenarios.js';
import { SCENARIOS } from './scenarios.js';

const [name, scenarioName, adminUrl] = process.argv.slice(2);
const quick = process.argv.includes('--quick');
if (name === undefined || scenarioName === undefined || adminUrl === undefined) {
  throw new Error('usage: run-contender.ts <contender> <scenario> <admin-url> [--quick]');
}
const scenario = [...SCENARIOS, ...FLOW_SCENARIOS, ...OWN_SCENARIOS, ...TRANSACTION_SCENARIOS].find(
  (s) => s.name === scenarioName,
);
if (scenario === undefined) throw new Error(`unknown scenario ${scenarioName}`);

const contender = await loadContender(name);
if (scenario.requires !== undefined) {
  // Before any database work: the cell stays empty and the report gives the reason.
  const missing =
    contender.flow === undefined
      ? 'no flow-control adapter'
      : contender.flow.unsupported[scenario.requires];
  if (missing !== undefined) {
    process.stdout.write(`SKIP ${JSON.stringify({ reason: missing, info: contender.info })}\n`);
    process.exit(0);
  }
}

const database = await createBenchDatabase(
  adminUrl,
  `bench_${name.replace(/\W/g, '_')}_${scenarioName.replace(/\W/g, '_')}_${process.pid}`,
);

try {
  await contender.setup(database.url);
  const result = await scenario.run({
    contender,
    url: database.url,
    quick,
    log: (line) => process.stderr.write(`${line}\n`),
  });
  process.stdout.write(`RESULT ${JSON.stringify({ ...result, info: contender.info })}\n`);
} finally {
  await contender.teardown().catch(() => undefined);
  await database.drop();
}
process.exit(0);

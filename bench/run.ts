/**
 * The benchmark: `npm run bench` (full, may take an hour) or `npm run bench -- --quick` (under
 * two minutes). Every contender runs every scenario in a process of its own, one after another,
 * on a fresh database of one PostgreSQL server (DATABASE_URL, else an embedded one, as in the
 * tests). Prints a table, writes bench/results/latest.json, and with --write BENCHMARKS.md.
 *
 * Options: --quick, --runs N (default 3, quick 1), --contenders a,b, --scenarios x,y (a name
 * ending in `*` is a prefix: `--scenarios 'drain.c16,flow.*'`), --write, --no-baseline,
 * --out file.json (default bench/results/latest.json).
 *
 * The flow-control scenarios (flow.*) run in the full run; in a quick run only when named.
 *
 * A drain run during which other processes of the machine kept more than a quarter of a core
 * busy is run again, up to twice, and the quietest kept (bench/noise.ts).
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { startEmbeddedServer } from '../dev/embedded-postgres.js';
import { benchChildArgs } from './child-args.js';
import { CONTENDERS, FLOW_ONLY, VARIANTS, VARIANT_SCENARIO } from './contenders/index.js';
import { FLOW_SCENARIOS } from './flow-scenarios.js';
import { OWN_SCENARIOS } from './own-scenarios.js';
import { rawBaseline, type BaselineResult } from './raw-baseline.js';
import { TRANSACTION_SCENARIOS } from './transaction-scenarios.js';
import { SCENARIOS, type ScenarioResult } from './scenarios.js';
import { costLine } from './cost-table.js';
import { MAX_NOISE_REPEATS, isNoisy, otherCoresOf, quietest } from './noise.js';
import { depthRatios, renderMarkdown, type BenchReport, type ScenarioRow } from './report.js';

interface ContenderVersion {
  version: string;
  settings: string;
}

const run = promisify(execFile);
const args = process.argv.slice(2);
const flag = (name: string) => args.includes(`--${name}`);
const option = (name: string) => {
  const index = args.indexOf(`--${name}`);
  return index === -1 ? undefined : args[index + 1];
};

const quick = flag('quick');
const runs = Number(option('runs') ?? (quick ? 1 : 3));
const contenders = option('contenders')?.split(',') ?? CONTENDERS;
const wanted = option('scenarios')?.split(',');
const named = (name: string) =>
  wanted!.some((w) => (w.endsWith('*') ? name.startsWith(w.slice(0, -1)) : name === w));
const scenarios = [
  ...SCENARIOS,
  ...FLOW_SCENARIOS,
  ...OWN_SCENARIOS,
  ...TRANSACTION_SCENARIOS,
].filter((s) => (wanted === undefined ? !(quick && s.fullOnly) : named(s.name)));
const quickScenarios = new Set(['enqueue.batch1000', 'drain.c16', 'latency']);

const started = Date.now();
const here = new URL('.', import.meta.url);
const dir = mkdtempSync(join(tmpdir(), 'bench-pg-'));
const server = process.env.DATABASE_URL
  ? undefined
  : await startEmbeddedServer({ dataDir: join(dir, 'data'), persistent: false });
const adminUrl = process.env.DATABASE_URL ?? server!.url;
const admin = new pg.Client({ connectionString: adminUrl });
await admin.connect();
const serverVersion = (await admin.query<{ server_version: string }>('SHOW server_version'))
  .rows[0]!.server_version;
await admin.end();
console.log(
  `PostgreSQL ${serverVersion} (${server ? 'embedded' : 'DATABASE_URL'}), ${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, ${quick ? 'quick' : 'full'} run, ${runs} run(s) per cell\n`,
);

type RunOutcome =
  { result: ScenarioResult; info: ContenderVersion } | { skipped: string; info: ContenderVersion };

/** One run of one scenario for one contender in a child process; undefined when it failed. */
async function runOnce(name: string, scenarioName: string): Promise<RunOutcome | undefined> {
  try {
    const { stdout } = await run(
      'node',
      [
        ...(await benchChildArgs('bench/run-contender.ts', ['--expose-gc'])),
        name,
        scenarioName,
        adminUrl,
        ...(quick ? ['--quick'] : []),
      ],
      { cwd: new URL('..', here), maxBuffer: 64 * 1024 * 1024, timeout: 45 * 60_000 },
    );
    const skip = stdout.split('\n').find((l) => l.startsWith('SKIP '));
    if (skip !== undefined) {
      const parsed = JSON.parse(skip.slice(5)) as { reason: string; info: ContenderVersion };
      return {
        skipped: parsed.reason,
        info: { version: parsed.info.version, settings: parsed.info.settings },
      };
    }
    const line = stdout.split('\n').find((l) => l.startsWith('RESULT '));
    if (line === undefined) throw new Error('no RESULT line');
    const { info, ...result } = JSON.parse(line.slice(7)) as ScenarioResult & {
      info: ContenderVersion;
    };
    return { result, info: { version: info.version, settings: info.settings } };
  } catch (error) {
    const text = error instanceof Error ? error.message : String(error);
    console.log(`  ${scenarioName} / ${name}: failed: ${text.split('\n').slice(-3).join(' ')}`);
    return undefined;
  }
}

const rows: ScenarioRow[] = [];
const versions: Record<string, ContenderVersion> = {};
try {
  for (const scenario of scenarios) {
    if (quick && wanted === undefined && !quickScenarios.has(scenario.name)) continue;
    const row: ScenarioRow = {
      scenario: scenario.name,
      description: scenario.description,
      cells: {},
    };
    for (const name of contenders) {
      if (scenario.only !== undefined && !scenario.only.includes(name)) continue;
      if (FLOW_ONLY.has(name) && scenario.requires === undefined) continue;
      if (VARIANTS.has(name) && !VARIANT_SCENARIO.test(scenario.name)) continue;
      const values: ScenarioResult[] = [];
      let skipped: string | undefined;
      let noiseRepeats = 0;
      for (let i = 0; i < Math.min(runs, scenario.runs ?? runs) && skipped === undefined; i++) {
        // A run timed while other processes kept the CPU busy is run again (bench/noise.ts).
        const attempts: ScenarioResult[] = [];
        for (let attempt = 0; attempt <= MAX_NOISE_REPEATS; attempt++) {
          if (attempt > 0) {
            noiseRepeats += 1;
            console.log(
              `  ${scenario.name} / ${name}: other processes used ${otherCoresOf(attempts.at(-1)?.details)} core(s) during the window, running again`,
            );
          }
          const outcome = await runOnce(name, scenario.name);
          if (outcome === undefined) break;
          if ('skipped' in outcome) {
            versions[name] ??= outcome.info;
            skipped = outcome.skipped;
            break;
          }
          versions[name] = outcome.info;
          attempts.push(outcome.result);
          if (!isNoisy(outcome.result.details)) break;
        }
        const kept = quietest(attempts);
        if (kept !== undefined) values.push(kept);
      }
      if (skipped !== undefined) {
        (row.skipped ??= {})[name] = skipped;
        console.log(`${scenario.name.padEnd(22)} ${name.padEnd(22)}        — skipped: ${skipped}`);
        continue;
      }
      if (values.length === 0) continue;
      const sorted = [...values].sort((a, b) => a.value - b.value);
      const median = sorted[Math.floor(sorted.length / 2)]!;
      row.cells[name] = {
        value: median.value,
        unit: median.unit,
        runs: values.map((v) => v.value),
        ...(median.details === undefined ? {} : { details: median.details }),
        ...(noiseRepeats > 0 ? { noiseRepeats } : {}),
        ...(values.some((v) => otherCoresOf(v.details) !== undefined)
          ? { otherCores: values.map((v) => otherCoresOf(v.details) ?? null) }
          : {}),
      };
      const details = median.details === undefined ? '' : ` ${JSON.stringify(median.details)}`;
      console.log(
        `${scenario.name.padEnd(22)} ${name.padEnd(22)} ${String(median.value).padStart(8)} ${median.unit}  runs ${values.map((v) => v.value).join(' / ')}${details.length < 200 ? details : ''}`,
      );
      const cost = costLine(median.details);
      if (cost !== undefined) console.log(`${''.padEnd(46)}per message: ${cost}`);
    }
    rows.push(row);
  }

  let baseline: BaselineResult[] = [];
  if (!flag('no-baseline'))
    baseline = await rawBaseline(adminUrl, quick ? 2 : 15, (line) => console.log(line), quick);

  const report: BenchReport = {
    date: new Date().toISOString(),
    mode: quick ? 'quick' : 'full',
    runs,
    machine: {
      cores: cpus().length,
      memoryGiB: Math.round(totalmem() / 2 ** 30),
      node: process.version,
      postgres: serverVersion,
    },
    versions,
    rows,
    baseline,
    seconds: Math.round((Date.now() - started) / 1000),
    depthRatios: depthRatios(rows),
  };
  const out = option('out') ?? new URL('results/latest.json', here).pathname;
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
  const markdown = renderMarkdown(report);
  console.log(`\n${markdown}`);
  if (flag('write')) writeFileSync(new URL('../BENCHMARKS.md', here), markdown);
} finally {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
}

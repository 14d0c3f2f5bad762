import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from '@jest/globals';
import { type DrainCost } from '../../bench/drain-cost.js';
import { adminUrl } from '../support/test-database.js';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'bench-smoke-'));

afterAll(() => rmSync(dir, { recursive: true, force: true }));

// bench/run.ts itself runs under tsx, as `npm run bench` runs it; the processes it starts, one
// per contender and scenario, run from esbuild bundles of their entries (bench/child-args.ts),
// which saves each of them tsx's seconds of start-up.
const benchEnv = { ...process.env, DATABASE_URL: adminUrl() };

describe('npm run bench -- --quick', () => {
  it('runs the quick benchmark for this library and writes its report', async () => {
    // This library's two contenders and the report path, in seconds; the peers run in
    // `npm run bench` itself.
    const out = join(dir, 'quick.json');
    const { stdout } = await run(
      'node',
      [
        '--import',
        'tsx',
        'bench/run.ts',
        '--quick',
        '--contenders',
        'fetchcraft-processor,fetchcraft-service',
        '--no-baseline',
        '--out',
        out,
      ],
      {
        cwd: new URL('../..', import.meta.url),
        env: benchEnv,
        timeout: 120_000,
        maxBuffer: 16 * 1024 * 1024,
      },
    );
    expect(stdout).toMatch(/^drain\.c16\s+fetchcraft-processor\s+\d+ msg\/s/m);
    expect(stdout).toMatch(/\| latency \| [\d.]+ \/ [\d.]+ \/ [\d.]+ ms \|/);
    // What each drained message cost, beside its rate: from the WAL and /proc, as measured.
    expect(stdout).toMatch(
      /^\s+per message: heap .+ \| index entries [\d.]+.* \| WAL [\d,.]+ B \|/m,
    );
    expect(stdout).toMatch(
      /^\| drain\.c16 \| fetchcraft-processor \| [\d,]+\/s \| [^|]+ \| [\d.]+.* \| [\d,]+ \| [\d.,]+ \/ [\d.,]+ \/ [\d.,]+ \|$/m,
    );
    const report = JSON.parse(readFileSync(out, 'utf8')) as {
      mode: string;
      rows: Array<{
        scenario: string;
        cells: Record<string, { value: number; details?: { cost?: DrainCost } }>;
      }>;
    };
    const cost = report.rows.find((row) => row.scenario === 'drain.c16')?.cells[
      'fetchcraft-processor'
    ]?.details?.cost;
    expect(cost?.wal).toMatchObject({ scope: 'database' });
    expect(cost?.walBytesPerMessage).toBeGreaterThan(0);
    expect(cost?.cpu.postgresUs).toBeGreaterThan(0);
    expect(report.mode).toBe('quick');
    expect(report.rows.map((row) => row.scenario)).toEqual([
      'enqueue.batch1000',
      'drain.c16',
      'latency',
    ]);
    for (const row of report.rows) {
      expect(row.cells['fetchcraft-processor']?.value).toBeGreaterThan(0);
      expect(row.cells['fetchcraft-service']?.value).toBeGreaterThan(0);
    }
  }, 150_000);

  it('runs flow-control scenarios when named, and skips a contender that lacks the feature', async () => {
    const out = join(dir, 'flow.json');
    const { stdout } = await run(
      'node',
      [
        '--import',
        'tsx',
        'bench/run.ts',
        '--quick',
        '--scenarios',
        'flow.priority,flow.gr*',
        '--contenders',
        'fetchcraft-processor,fetchcraft-service',
        '--no-baseline',
        '--out',
        out,
      ],
      {
        cwd: new URL('../..', import.meta.url),
        env: benchEnv,
        timeout: 120_000,
        maxBuffer: 16 * 1024 * 1024,
      },
    );
    expect(stdout).toMatch(/^flow\.groups\s+fetchcraft-processor\s+\d+ msg\/s/m);
    expect(stdout).toMatch(/^flow\.groups\s+fetchcraft-service\s+— skipped: /m);
    expect(stdout).toMatch(/^\| flow\.groups \| [\d,]+\/s \(0 group overlaps\) \| — \|/m);
    const report = JSON.parse(readFileSync(out, 'utf8')) as {
      rows: Array<{
        scenario: string;
        cells: Record<string, { value: number; details: Record<string, number> }>;
        skipped?: Record<string, string>;
      }>;
    };
    const [priority, groups] = report.rows;
    expect(report.rows.map((row) => row.scenario)).toEqual(['flow.priority', 'flow.groups']);
    for (const name of ['fetchcraft-processor', 'fetchcraft-service']) {
      const cell = priority!.cells[name]!;
      expect(cell.details.handled).toBe(5_000);
      // Leases come in priority order; only handlers started together may cross a level.
      expect(cell.details.inverted).toBeLessThan(0.05);
    }
    const ours = groups!.cells['fetchcraft-processor']!;
    expect(ours.details.handled).toBe(5_000);
    expect(ours.details.overlaps).toBe(0);
    expect(ours.details.groupsOverLimitSampled).toBe(0);
    expect(groups!.cells['fetchcraft-service']).toBeUndefined();
    expect(groups!.skipped?.['fetchcraft-service']).toMatch(/@Processor options/);
  }, 150_000);
});

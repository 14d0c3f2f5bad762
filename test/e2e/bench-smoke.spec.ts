import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from '@jest/globals';
import { adminUrl } from '../support/test-database.js';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'bench-smoke-'));

afterAll(() => rmSync(dir, { recursive: true, force: true }));

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
        env: { ...process.env, DATABASE_URL: adminUrl() },
        timeout: 120_000,
        maxBuffer: 16 * 1024 * 1024,
      },
    );
    expect(stdout).toMatch(/^drain\.c16\s+fetchcraft-processor\s+\d+ msg\/s/m);
    expect(stdout).toMatch(/\| latency \| [\d.]+ \/ [\d.]+ \/ [\d.]+ ms \|/);
    const report = JSON.parse(readFileSync(out, 'utf8')) as {
      mode: string;
      rows: Array<{ scenario: string; cells: Record<string, { value: number }> }>;
    };
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
});

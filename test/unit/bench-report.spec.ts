import { describe, expect, it } from '@jest/globals';
import { costLine } from '../../bench/cost-table.js';
import { type DrainCost } from '../../bench/drain-cost.js';
import { depthRatios, renderMarkdown, type BenchReport } from '../../bench/report.js';

const cost: DrainCost = {
  messages: 50_000,
  seconds: 2.5,
  walBytesPerMessage: 957.6,
  wal: {
    scope: 'database',
    heap: {
      insert: 0,
      update: 1.8,
      hotUpdate: 0.2,
      delete: 0,
      lock: 3.5,
      multiInsert: 0,
      lockUpdated: 0,
    },
    indexEntries: 4.386,
    indexSplits: 0.005,
    indexUpper: 0.005,
    records: {},
  },
  cpu: { nodeUs: 33.6, postgresUs: 34, otherUs: 8.4, otherCores: 0.1 },
};

const report = (rows: BenchReport['rows']): BenchReport => ({
  date: '2026-11-30T00:00:00.000Z',
  mode: 'full',
  runs: 3,
  machine: { cores: 2, memoryGiB: 24, node: 'v20', postgres: '18.4' },
  versions: {},
  rows,
  baseline: [],
  seconds: 60,
});

describe('the per-message table', () => {
  it('shows, beside each drain rate, heap writes by kind, index entries, WAL bytes and the CPU split', () => {
    const markdown = renderMarkdown(
      report([
        {
          scenario: 'drain.c16',
          description: 'drain',
          cells: {
            'fetchcraft-processor': {
              value: 20_000,
              unit: 'msg/s',
              runs: [20_000],
              details: { cost },
              noiseRepeats: 2,
            },
            'pg-boss': {
              value: 5_000,
              unit: 'msg/s',
              runs: [5_000],
              details: { cost: { ...cost, wal: { unavailable: 'pg_walinspect: not there' } } },
            },
          },
        },
      ]),
    );
    expect(markdown).toContain('## Per message, drain');
    expect(markdown).toContain(
      '| drain.c16 | fetchcraft-processor | 20,000/s | 1.80 upd, 0.20 hot, 3.50 lock | 4.39 (0.01 splits) | 958 | 33.60 / 34.00 / 8.40 |',
    );
    expect(markdown).toContain(
      '| drain.c16 | pg-boss | 5,000/s | unavailable | unavailable | 958 | 33.60 / 34.00 / 8.40 |',
    );
    expect(markdown).toMatch(/2 run\(s\) in all/);
  });

  it('is left out when no result measured a cost', () => {
    const markdown = renderMarkdown(
      report([
        {
          scenario: 'latency',
          description: 'latency',
          cells: { 'fetchcraft-processor': { value: 3, unit: 'ms', runs: [3] } },
        },
      ]),
    );
    expect(markdown).not.toContain('Per message');
  });

  it('reads as one console line, with unknown CPU shares as ?', () => {
    const unknown = {
      ...cost,
      cpu: { ...cost.cpu, postgresUs: null, otherUs: null, otherCores: null },
    };
    expect(costLine({ cost: unknown })).toBe(
      'heap 1.80 upd, 0.20 hot, 3.50 lock | index entries 4.39 (0.01 splits) | WAL 958 B | CPU µs node / postgres / other 33.60 / ? / ? | other processes ? core(s)',
    );
    expect(costLine({ messages: 3 })).toBeUndefined();
  });
});

describe('depth', () => {
  it('gives depth.1m over depth.10k per contender that ran both, in the JSON and the report', () => {
    const rows: BenchReport['rows'] = [
      {
        scenario: 'depth.10k',
        description: '10k',
        cells: {
          'fetchcraft-processor': { value: 20_000, unit: 'msg/s', runs: [20_000] },
          'pg-boss': { value: 1_000, unit: 'msg/s', runs: [1_000] },
        },
      },
      {
        scenario: 'depth.1m',
        description: '1m',
        cells: { 'fetchcraft-processor': { value: 17_000, unit: 'msg/s', runs: [17_000] } },
      },
    ];
    expect(depthRatios(rows)).toEqual({ 'fetchcraft-processor': 0.85 });
    const markdown = renderMarkdown(report(rows));
    expect(markdown).toContain('| fetchcraft-processor | 20,000/s | 17,000/s | 0.85 |');
    expect(markdown).toContain('| pg-boss | 1,000/s | — |  |');
  });
});

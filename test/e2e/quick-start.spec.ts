import { readFileSync } from 'node:fs';
import { describe, expect, it, jest } from '@jest/globals';
import { useQueueFixture } from '../support/queue-fixture.js';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

const { db } = useQueueFixture('quick_start', { reset: 'none' });

describe("the README's examples", () => {
  it.each(['quick-start.ts', 'processors.ts'])('contains examples/%s verbatim', (file) => {
    const source = readFileSync(new URL(`../../examples/${file}`, import.meta.url), 'utf8');
    expect(readme).toContain('```ts\n' + source + '```');
  });
});

describe("the README's quick start", () => {
  it('runs as pasted: enqueue, lease, ack, stats', async () => {
    const previous = process.env.DATABASE_URL;
    process.env.DATABASE_URL = db.url;
    const log = jest.spyOn(console, 'log').mockImplementation(() => {});
    try {
      await import('../../examples/quick-start.js');
      const lines = log.mock.calls.map((call) => call[0] as unknown);
      expect(lines[0]).toBe('processing https://example.com/a.pdf (attempt 1)');
      expect(lines[1]).toEqual({
        totalMessages: 1,
        byState: { ready: 0, leased: 0, done: 1, failed: 0 },
        byQueue: { 'ingest.main': { ready: 0, leased: 0, done: 1, failed: 0 } },
        failedMessages: 0,
      });
    } finally {
      log.mockRestore();
      if (previous === undefined) delete process.env.DATABASE_URL;
      else process.env.DATABASE_URL = previous;
    }
  });
});

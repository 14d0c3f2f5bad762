/**
 * Fault 10 over HTTP: hostile input sent to the demo's endpoints gets a clear 4xx, nothing is
 * written, and the application keeps serving. (The same inputs through the QueueService API are
 * in test/integration/bad-input.spec.ts.)
 */
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { type NestExpressApplication } from '@nestjs/platform-express';
import { Test } from '@nestjs/testing';
import { configureDemoApp } from '../../samples/demo-app/configure-demo-app.js';
import { DemoModule } from '../../samples/demo-app/demo.module.js';
import { STATS_TTL_MS } from '../../samples/demo-app/documents.controller.js';
import { QueueService } from '../../src/index.js';
import { useQueueFixture } from '../support/queue-fixture.js';

const { db } = useQueueFixture('hostile_http', { reset: 'none' });
let app: NestExpressApplication;
let url: string;

beforeAll(async () => {
  const moduleRef = await Test.createTestingModule({
    imports: [DemoModule.register(db.url)],
  }).compile();
  app = moduleRef.createNestApplication<NestExpressApplication>({
    logger: false,
    bodyParser: false,
  });
  configureDemoApp(app);
  await app.listen(0, '127.0.0.1');
  url = await app.getUrl();
}, 60_000);

afterAll(async () => {
  await app?.close();
});

async function post(
  path: string,
  body: string,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(`${url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
  });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

async function rows(): Promise<number> {
  const { rows: result } = await db.query<{ n: string }>('SELECT count(*) AS n FROM messages');
  return Number(result[0]!.n);
}

const doc = (content: string, extra = '') =>
  `{"url": "https://docs.example.com/a.pdf", "content": ${content}${extra}}`;

function nested(depth: number): string {
  return `${'['.repeat(depth)}"x"${']'.repeat(depth)}`;
}

const cases: Array<[string, string, string, number]> = [
  [
    'an SQL injection as the url',
    '/documents',
    `{"url": "x'); DROP TABLE messages; --", "content": "a"}`,
    400,
  ],
  [
    'an SQL injection as a body key',
    '/documents',
    doc('"a"', `, "x'); DROP TABLE messages; --": 1`),
    400,
  ],
  ['a NUL in a string', '/documents', doc('"bad \\u0000 byte"'), 400],
  ['a lone surrogate', '/documents', doc('"half \\ud800 pair"'), 400],
  ['a wrong type', '/documents', doc('12345'), 400],
  ['10,000 levels of nesting', '/documents', doc('"a"', `, "title": ${nested(10_000)}`), 400],
  ['a 4 MB string', '/documents', doc(JSON.stringify('x'.repeat(4 * 1024 * 1024))), 400],
  [
    'a 10 MB body (over the HTTP limit)',
    '/documents',
    doc(JSON.stringify('x'.repeat(10 * 1024 * 1024))),
    413,
  ],
  ['malformed JSON', '/documents', '{"url": ', 400],
  [
    'a huge array of documents',
    '/documents/batch',
    `{"documents": [${Array.from({ length: 10_001 }, () => '{"url":"https://e.com/a.pdf","content":"x"}').join(',')}]}`,
    400,
  ],
  [
    'a huge array of numbers',
    '/documents/batch',
    `{"documents": [${Array.from({ length: 1_000_000 }, () => '1').join(',')}]}`,
    400,
  ],
  [
    'a batch with one poisoned document',
    '/documents/batch',
    `{"documents": [{"url":"https://e.com/a.pdf","content":"fine"},{"url":"https://e.com/b.pdf","content":"bad \\u0000"}]}`,
    400,
  ],
];

describe('hostile input over HTTP', () => {
  it.each(cases)(
    'refuses %s with a clear error and writes nothing',
    async (_label, path, body, status) => {
      const before = await rows();
      const response = await post(path, body);
      expect(response.status).toBe(status);
      expect(response.json.message).toBeDefined();
      expect(await rows()).toBe(before);
    },
    60_000,
  );

  it('refuses a million numbers by its value budget, before DTO validation copies them', async () => {
    const response = await post(
      '/documents/batch',
      `{"documents": [${Array.from({ length: 1_000_000 }, () => '1').join(',')}]}`,
    );
    expect(response.status).toBe(400);
    expect(response.json.message).toMatch(/at most 200000 values/);
  });

  it.each([
    ['a cross-site form', 'application/x-www-form-urlencoded', 'url=https://e.com/a.pdf&content=x'],
    ['plain text', 'text/plain', '{"url": "https://e.com/a.pdf", "content": "x"}'],
    ['a multipart form', 'multipart/form-data; boundary=x', '--x\r\n\r\nx\r\n--x--'],
  ])('refuses %s with 415: only JSON is read', async (_label, type, body) => {
    const before = await rows();
    const response = await fetch(`${url}/documents`, {
      method: 'POST',
      headers: { 'content-type': type },
      body,
    });
    expect(response.status).toBe(415);
    expect(await rows()).toBe(before);
  });

  it('says nothing about its framework, and counts the table at most once a second', async () => {
    const response = await fetch(`${url}/queues/stats`);
    expect(response.status).toBe(200);
    expect(response.headers.get('x-powered-by')).toBeNull();
    const queue = app.get(QueueService);
    const getStats = jest.spyOn(queue, 'getStats');
    try {
      await new Promise((resolve) => setTimeout(resolve, STATS_TTL_MS));
      const answers = await Promise.all(
        Array.from({ length: 50 }, () => fetch(`${url}/queues/stats`).then((r) => r.status)),
      );
      expect(answers.every((status) => status === 200)).toBe(true);
      expect(getStats).toHaveBeenCalledTimes(1);
    } finally {
      getStats.mockRestore();
    }
  });

  it('stores SQL-looking text as data, and keeps serving afterwards', async () => {
    const hostile = "Robert'); DROP TABLE messages; --";
    const response = await post('/documents', doc(JSON.stringify(hostile)));
    expect(response.status).toBe(202);
    const { rows: stored } = await db.query<{ content: string }>(
      "SELECT body->>'content' AS content FROM messages WHERE id = $1",
      [response.json.id],
    );
    expect(stored[0]?.content).toBe(hostile);
    expect((await fetch(`${url}/health/ready`)).status).toBe(200);
  });
});

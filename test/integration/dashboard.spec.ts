import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Test } from '@nestjs/testing';
import {
  QueueModule,
  QueueOptionsError,
  QueueService,
  type DashboardOptions,
} from '../../src/index.js';
import { bootError, bootHttpApp, RecordingLogger, waitFor } from '../support/boot.js';
import { DashboardClient, HeaderUserGuard } from '../support/dashboard-http.js';
import { useQueueFixture } from '../support/queue-fixture.js';

const { db } = useQueueFixture('dashboard', { reset: 'none' });

interface Dashboard {
  readonly origin: string;
  readonly queue: QueueService;
  readonly logger: RecordingLogger;
  close(): Promise<void>;
}

async function start(dashboard: DashboardOptions): Promise<Dashboard> {
  const logger = new RecordingLogger();
  const app = await bootHttpApp({ connectionString: db.url, workers: false, dashboard }, [], {
    logger,
  });
  return { origin: app.url, queue: app.queue, logger, close: () => app.close() };
}

/** Makes `count` dead letters of `queue`, as a processor leaves them. */
async function deadLetters(queue: QueueService, name: string, count: number): Promise<string[]> {
  const ids = await queue.enqueueMany(
    name,
    Array.from({ length: count }, (_, n) => ({ n })),
  );
  await db.query(
    `UPDATE messages SET state = 'failed', attempts = 3,
       last_error = jsonb_build_object('name', 'Error', 'message', 'boom <b>bold</b>', 'stack', 'Error: boom\n    at handler', 'attempt', 3, 'failedAt', 1)
     WHERE id = ANY ($1::text[])`,
    [ids],
  );
  return ids;
}

/** The text of the element `testid` names in `markup`. */
function cell(markup: string | undefined, testid: string): string | undefined {
  return new RegExp(`data-testid="${testid}"[^>]*>\\s*([^<]*?)\\s*<`).exec(markup ?? '')?.[1];
}

async function stateOf(id: string): Promise<string | undefined> {
  const rows = await db.query<{ state: string }>('SELECT state FROM messages WHERE id = $1', [id]);
  return rows.rows[0]?.state;
}

describe('the dashboard behind a guard', () => {
  let app: Dashboard;
  beforeAll(async () => {
    app = await start({
      guard: HeaderUserGuard,
      readOnly: (request) => (request.user as { username?: string }).username === 'viewer',
    });
  });
  afterAll(() => app.close());

  it('refuses a request without credentials, and serves the pages with the numbers and headers', async () => {
    const anonymous = new DashboardClient(app.origin, undefined);
    const refused = await anonymous.get('/queues');
    expect(refused.status).toBe(403);
    expect(refused.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect((await anonymous.get('/queues/assets/dashboard.js')).status).toBe(403);

    await app.queue.enqueueMany('dash.main', [{ a: 1 }, { a: 2 }, { a: 3 }]);
    await deadLetters(app.queue, 'dash.main', 2);
    // Samples of a queue that holds no message now: its rates come from the latest minute.
    await db.query(
      `INSERT INTO messages_samples (minute, queue, ready, leased, failed, done, cancelled, enqueued, completed)
       SELECT date_trunc('minute', now()) - make_interval(mins => g), 'dash.sampled', 0, 0, 0, 0, 0, 100 + g, 50 + g
       FROM generate_series(1, 5) AS g`,
    );
    const admin = new DashboardClient(app.origin, 'alice');
    const overview = await admin.get('/queues');
    expect(overview.status).toBe(200);
    expect(overview.headers.get('content-security-policy')).toBe(
      "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    );
    expect(overview.headers.get('x-content-type-options')).toBe('nosniff');
    expect(overview.headers.get('referrer-policy')).toBe('same-origin');
    expect(overview.headers.get('cache-control')).toBe('no-store');
    expect(overview.headers.get('x-frame-options')).toBe('DENY');
    expect(overview.headers.get('set-cookie')).toMatch(
      /^fcq_dashboard_csrf=[\w-]{43}; Path=\/queues; HttpOnly; SameSite=Strict$/,
    );
    const row = /<tr data-testid="queue-row" data-queue="dash.main">([\s\S]*?)<\/tr>/.exec(
      overview.text,
    )?.[1];
    expect(cell(row, 'ready')).toBe('3');
    expect(cell(row, 'failed')).toBe('2');
    expect(cell(row, 'leased')).toBe('0');
    const sampled = /<tr data-testid="queue-row" data-queue="dash.sampled">([\s\S]*?)<\/tr>/.exec(
      overview.text,
    )?.[1];
    expect(cell(sampled, 'rate-in')).toBe('101');
    expect(cell(sampled, 'rate-out')).toBe('51');
    expect(overview.text).toMatch(/"queue":"dash.sampled","minutes":\[\d+,\d+,\d+,\d+,\d+\]/);
    // No inline script: each script element loads a file, or holds JSON data.
    for (const [, attributes] of overview.text.matchAll(/<script([^>]*)>/g)) {
      expect(attributes).toMatch(/ src="\/queues\/assets\/[\w.]+\.js"| type="application\/json"/);
    }
    expect(overview.text).not.toMatch(/ style=| on[a-z]+=/);

    const queuePage = await admin.get('/queues/queues/dash.main?state=ready');
    expect(queuePage.status).toBe(200);
    expect(queuePage.text.match(/data-testid="message-row"/g)).toHaveLength(3);
    const searched = await admin.get('/queues/queues/dash.main?q=a%3D2');
    expect(searched.text.match(/data-testid="message-row"/g)).toHaveLength(1);
    const failedPage = await admin.get('/queues/queues/dash.main?state=failed');
    const failedId = /data-testid="message-row" data-id="([^"]+)"/.exec(failedPage.text)?.[1];
    const message = await admin.get(`/queues/messages/${failedId ?? ''}`);
    expect(message.text).toContain('boom &lt;b&gt;bold&lt;/b&gt;');
    expect(message.text).toContain('Error: boom\n    at handler');

    for (const asset of ['uPlot.iife.min.js', 'uPlot.min.css', 'dashboard.js', 'dashboard.css']) {
      const file = await admin.get(`/queues/assets/${asset}`);
      expect(file.status).toBe(200);
      expect(file.headers.get('content-type')).toMatch(/^text\/(javascript|css)/);
    }
    expect((await admin.get('/queues/assets/..%2Fpackage.json')).status).toBe(404);
  });

  it('refuses a POST without the token or from another site, and retries a dead letter with them', async () => {
    const [id] = await deadLetters(app.queue, 'dash.retry', 1);
    const admin = new DashboardClient(app.origin, 'alice');
    const page = await admin.get('/queues/queues/dash.retry');
    const token = admin.token(page);
    const form = { id: id!, queue: 'dash.retry', back: '/queues/queues/dash.retry' };

    expect((await admin.post('/queues/actions/retry', form)).status).toBe(403);
    expect(
      (await admin.post('/queues/actions/retry', { ...form, _csrf: 'x'.repeat(43) })).status,
    ).toBe(403);
    const crossSite = await admin.post(
      '/queues/actions/retry',
      { ...form, _csrf: token },
      { origin: 'https://evil.example' },
    );
    expect(crossSite.status).toBe(403);
    expect(crossSite.text).toContain('cross-site');
    expect(app.logger.lines).toContain(
      'warn "alice" retry refused: Refused: a cross-site request (Origin is another host).',
    );
    expect(
      (
        await admin.post(
          '/queues/actions/retry',
          { ...form, _csrf: token },
          { 'sec-fetch-site': 'cross-site' },
        )
      ).status,
    ).toBe(403);
    expect(await stateOf(id!)).toBe('failed');

    const retried = await admin.post(
      '/queues/actions/retry',
      { ...form, _csrf: token },
      { origin: app.origin, 'sec-fetch-site': 'same-origin' },
    );
    expect(retried.status).toBe(303);
    expect(retried.headers.get('location')).toBe(
      '/queues/queues/dash.retry?flash=Retried+1+message.',
    );
    expect(await stateOf(id!)).toBe('ready');
    expect(app.logger.lines.some((line) => line.includes('"alice" retry queue="dash.retry"'))).toBe(
      true,
    );
    // An action never redirects off the dashboard.
    const offsite = await admin.post('/queues/actions/pause', {
      queue: 'dash.retry',
      _csrf: token,
      back: '//evil.example/queues',
    });
    expect(offsite.headers.get('location')).toMatch(/^\/queues\?flash=/);
    expect(await app.queue.isPaused('dash.retry')).toBe(true);
    await app.queue.resume('dash.retry');
  });

  it('searches by id, pages after a message, cancels and deletes', async () => {
    const [first, second, third] = await app.queue.enqueueMany('dash.ops', [
      { customer: { id: 7 } },
      { customer: { id: 8 } },
      { customer: { id: 7 } },
    ]);
    const admin = new DashboardClient(app.origin, 'alice');
    const byId = await admin.get(`/queues/queues/dash.ops?q=${first!}`);
    expect(byId.status).toBe(303);
    expect(byId.headers.get('location')).toBe(`/queues/messages/${first!}`);
    const nested = await admin.get('/queues/queues/dash.ops?q=customer.id%3D7');
    expect(
      [...nested.text.matchAll(/data-testid="message-row" data-id="([^"]+)"/g)].map((m) => m[1]),
    ).toEqual([first, third]);
    const bad = await admin.get('/queues/queues/dash.ops?q=%7B%22a%22%3A%3Cb%3E');
    expect(cell(bad.text, 'search-error')).toMatch(/^Not JSON: /);
    expect(bad.text).toContain('value="{&quot;a&quot;:&lt;b&gt;"');
    const after = await admin.get(`/queues/queues/dash.ops?after=${first!}`);
    expect(
      [...after.text.matchAll(/data-testid="message-row" data-id="([^"]+)"/g)].map((m) => m[1]),
    ).toEqual([second, third]);

    const token = admin.token(after);
    const cancelled = await admin.post('/queues/actions/cancel', {
      id: second!,
      _csrf: token,
      back: '/queues/queues/dash.ops',
    });
    expect(cancelled.headers.get('location')).toBe(
      '/queues/queues/dash.ops?flash=Cancel%3A+cancelled.',
    );
    expect(await stateOf(second!)).toBe('cancelled');
    const deleted = await admin.post('/queues/actions/delete', {
      id: third!,
      queue: 'dash.ops',
      _csrf: token,
      back: `/queues/messages/${third!}`,
    });
    expect(deleted.headers.get('location')).toBe(
      '/queues/queues/dash.ops?flash=Deleted+1+message.',
    );
    expect(await stateOf(third!)).toBeUndefined();
    expect(app.logger.lines).toContain(`log "alice" delete queue="dash.ops" id="${third!}": 1`);
  });

  it('confirms a bulk retry, runs it in the background and shows its progress', async () => {
    await deadLetters(app.queue, 'dash.bulk', 25);
    const admin = new DashboardClient(app.origin, 'alice');
    const token = admin.token(await admin.get('/queues/queues/dash.bulk'));
    const confirm = await admin.post('/queues/actions/retry-all', {
      queue: 'dash.bulk',
      _csrf: token,
      back: '/queues/queues/dash.bulk',
    });
    expect(confirm.status).toBe(200);
    expect(cell(confirm.text, 'confirm-count')).toBe('25');
    expect((await app.queue.getStats('dash.bulk')).byQueue['dash.bulk']?.failed).toBe(25);

    const started = await admin.post('/queues/actions/retry-all', {
      queue: 'dash.bulk',
      _csrf: token,
      confirm: 'yes',
    });
    expect(started.status).toBe(303);
    const location = started.headers.get('location') ?? '';
    expect(location).toMatch(/^\/queues\/actions\/[0-9a-f-]{36}\?queue=dash.bulk$/);
    await waitFor(
      async () => (await app.queue.getStats('dash.bulk')).byQueue['dash.bulk']?.ready === 25,
    );
    const progress = await admin.get(location);
    expect(cell(progress.text, 'progress-remaining')).toBe('0');
    const [path, query] = location.split('?');
    const state = JSON.parse((await admin.get(`${path}/state?${query}`)).text) as {
      progress: { done: number; finished: boolean };
      remaining: number;
    };
    expect(state).toEqual({
      progress: { done: 25, total: 25, finished: true },
      remaining: 0,
    });
  });

  it('runs a schedule now: one message, its next tick unmoved', async () => {
    await app.queue.schedule('dash-nightly', {
      queue: 'dash.schedule',
      cron: '0 3 * * *',
      body: { report: 'nightly' },
      enqueueOptions: { priority: 5, delaySeconds: 600 },
    });
    const before = (await app.queue.listSchedules()).find((s) => s.name === 'dash-nightly');
    const admin = new DashboardClient(app.origin, 'alice');
    const schedules = await admin.get('/queues/schedules');
    expect(schedules.text).toContain('data-schedule="dash-nightly"');
    const ran = await admin.post('/queues/actions/run-schedule', {
      name: 'dash-nightly',
      _csrf: admin.token(schedules),
      back: '/queues/schedules',
    });
    expect(ran.status).toBe(303);
    const rows = await db.query<{
      body: unknown;
      priority: number;
      due: boolean;
      unique_key: string | null;
    }>(
      `SELECT body, priority, available_at <= extract(epoch from now())::bigint AS due, unique_key
       FROM messages WHERE queue = 'dash.schedule'`,
    );
    expect(rows.rows).toEqual([
      { body: { report: 'nightly' }, priority: 5, due: true, unique_key: null },
    ]);
    const after = (await app.queue.listSchedules()).find((s) => s.name === 'dash-nightly');
    expect(after?.nextTickAt).toEqual(before?.nextTickAt);
    expect(await app.queue.runScheduleNow('no-such-schedule')).toBeNull();
    const missing = await admin.post('/queues/actions/run-schedule', {
      name: 'no-such-<b>schedule</b>',
      _csrf: admin.token(schedules),
    });
    expect(missing.status).toBe(404);
    expect(missing.text).toContain('no-such-&lt;b&gt;schedule&lt;/b&gt;');
  });

  it('renders no button for a read-only user and refuses their POST', async () => {
    const [id] = await deadLetters(app.queue, 'dash.readonly', 1);
    const viewer = new DashboardClient(app.origin, 'viewer');
    const page = await viewer.get('/queues/queues/dash.readonly?state=failed');
    expect(page.status).toBe(200);
    expect(page.text).toContain('data-testid="read-only"');
    expect(page.text).not.toContain('method="post"');
    expect(page.text).not.toContain('data-testid="action-');
    expect((await viewer.get(`/queues/messages/${id!}`)).text).not.toContain('method="post"');
    const admin = new DashboardClient(app.origin, 'alice');
    const token = admin.token(await admin.get('/queues/queues/dash.readonly?state=failed'));
    const refused = await viewer.post(
      '/queues/actions/retry',
      { id: id!, queue: 'dash.readonly', _csrf: token },
      { cookie: `fcq_dashboard_csrf=${token}` },
    );
    expect(refused.status).toBe(403);
    expect(await stateOf(id!)).toBe('failed');
  });
});

describe('mounting the dashboard', () => {
  it('fails the boot without a guard, and warns when it is public', async () => {
    const error = await bootError({
      imports: [QueueModule.forRoot({ connectionString: db.url, workers: false, dashboard: {} })],
    });
    expect(error).toBeInstanceOf(QueueOptionsError);
    expect((error as QueueOptionsError).option).toBe('dashboard.guard');
    expect((error as Error).message).toContain('public: true');

    // Public, under a global prefix, and with Nest's body parser off: the dashboard reads the
    // form from the request itself.
    const logger = new RecordingLogger();
    const moduleRef = await Test.createTestingModule({
      imports: [
        QueueModule.forRoot({
          connectionString: db.url,
          workers: false,
          poolMaxSize: 2,
          dashboard: { public: true, path: 'ops/queues' },
        }),
      ],
    }).compile();
    const open = moduleRef.createNestApplication({ logger, bodyParser: false });
    open.setGlobalPrefix('api');
    await open.listen(0, '127.0.0.1');
    try {
      expect(
        logger.lines.some((line) =>
          line.startsWith('warn The queue dashboard at /ops/queues is public'),
        ),
      ).toBe(true);
      const client = new DashboardClient(await open.getUrl(), undefined);
      const page = await client.get('/api/ops/queues');
      expect(page.status).toBe(200);
      expect(page.text).toContain('href="/api/ops/queues/schedules"');
      expect(page.headers.get('set-cookie')).toContain('Path=/api/ops/queues;');
      const paused = await client.post('/api/ops/queues/actions/pause', {
        queue: 'dash.public',
        _csrf: client.token(page),
        back: '/api/ops/queues',
      });
      expect(paused.status).toBe(303);
      expect(paused.headers.get('location')).toBe(
        '/api/ops/queues?flash=Paused+dash.public+for+every+replica.',
      );
      const queueService = moduleRef.get(QueueService);
      expect(await queueService.isPaused('dash.public')).toBe(true);
      await queueService.enqueue('dash.public', {});
      const overview = await client.get('/api/ops/queues');
      expect(overview.text).toMatch(/data-queue="dash.public">\s*<td>[\s\S]*?data-testid="paused"/);
      expect(overview.text).toContain('action="/api/ops/queues/actions/resume"');
    } finally {
      await open.close();
    }
  });
});

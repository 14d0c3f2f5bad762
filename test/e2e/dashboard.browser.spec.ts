import { type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Injectable } from '@nestjs/common';
import type { Browser, Page } from 'puppeteer-core';
import { Processor, type ProcessorMessage, type QueueService } from '../../src/index.js';
import { bootHttpApp, sleep, waitFor } from '../support/boot.js';
import {
  closeBrowser,
  launchBrowser,
  saveScreenshot,
  watchPage,
  type PageWatch,
} from '../support/browser.js';
import { HeaderUserGuard } from '../support/dashboard-http.js';
import { startFlowWorkers, type FlowWorkers } from '../support/flow-workers.js';
import { useQueueFixture } from '../support/queue-fixture.js';

/*
 * The dashboard in a real Chromium, against one real app (its guard, its processor) on the real
 * Postgres, and a second app instance in a child process for the pause test. One boot for the
 * whole file; the pages' CSP is enforced by the browser, and any violation, console error or
 * failed request fails the test that caused it.
 */

const SCRIPT = '<script>window.__pwned=1</script>';
const IMG = '"><img src=x onerror=window.__pwned=1>';

const processed: string[] = [];

@Injectable()
class WebProcessor {
  @Processor('web.main')
  handle(message: ProcessorMessage): void {
    processed.push(message.id);
  }
}

const { db } = useQueueFixture('dashboard_browser', { reset: 'none' });
let app: { url: string; queue: QueueService; close(): Promise<void> };
let browser: Browser | undefined;
let page: Page;
let watch: PageWatch;
let base: string;
const children: ChildProcess[] = [];

beforeAll(async () => {
  const booted = await bootHttpApp(
    { connectionString: db.url, dashboard: { guard: HeaderUserGuard }, pollIntervalMs: 100 },
    [WebProcessor],
  );
  app = booted;
  base = `${booted.url}/queues`;
  // A container's C locale reaches Chromium as en-US@posix, a tag Intl refuses (uPlot formats
  // its axes with navigator.language): a user's browser has a real one.
  process.env.LANG = 'en_US.UTF-8';
  browser = await launchBrowser();
  page = await browser.newPage();
  watch = await watchPage(page);
  await page.setExtraHTTPHeaders({ 'x-user': 'alice' });
});

afterAll(async () => {
  for (const child of children) await stopChild(child);
  await closeBrowser(browser);
  await app?.close();
});

/** SIGTERM, SIGKILL after 5 s; no timer outlives the child (jest would wait for it). */
async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

/** Clicks the element and waits for the page it leads to. */
async function clickAndWait(selector: string): Promise<void> {
  await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click(selector)]);
}

async function text(selector: string): Promise<string> {
  return page.$eval(selector, (element) => (element.textContent ?? '').trim());
}

async function deadLetter(queue: string, body: unknown, groupKey?: string): Promise<string> {
  const id = await app.queue.enqueue(queue, body, groupKey === undefined ? {} : { groupKey });
  await db.query(
    `UPDATE messages SET state = 'failed', attempts = 3, lease_token = NULL, lease_until = NULL,
       last_error = jsonb_build_object('name', 'TypeError', 'message', 'cannot read x of undefined', 'stack', 'TypeError: cannot read x of undefined\n    at Handler.handle (handler.ts:12:7)', 'attempt', 3, 'failedAt', extract(epoch from now())::bigint)
     WHERE id = $1`,
    [id],
  );
  return id;
}

describe('the dashboard in a browser', () => {
  it('is refused without the credential the guard wants', async () => {
    const anonymous = await browser!.newPage();
    const response = await anonymous.goto(base, { waitUntil: 'load' });
    expect(response?.status()).toBe(403);
    expect(response?.headers()['content-security-policy']).toContain("script-src 'self'");
    expect(await anonymous.$eval('h1', (element) => element.textContent)).toBe('403');
    await anonymous.close();
  });

  it('shows the depth the database has, on the overview and the queue page', async () => {
    await app.queue.enqueueMany(
      'web.depth',
      Array.from({ length: 7 }, (_, n) => ({ n })),
    );
    const { rows } = await db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM messages WHERE queue = 'web.depth' AND state = 'ready'`,
    );
    // An hour of minutes as the sampler writes them, so the charts have something to draw.
    await db.query(
      `INSERT INTO messages_samples (minute, queue, ready, leased, failed, done, cancelled, enqueued, completed)
       SELECT date_trunc('minute', now()) - make_interval(mins => g), 'web.depth',
              40 + (20 * sin(g / 6.0))::int, g % 4, (g / 20)::int, 1000 - g * 10, 0,
              30 + (12 * cos(g / 5.0))::int, 28 + (10 * sin(g / 4.0))::int
       FROM generate_series(1, 60) AS g
       ON CONFLICT DO NOTHING`,
    );
    const response = await page.goto(base, { waitUntil: 'load' });
    expect(response?.status()).toBe(200);
    expect(await text('[data-queue="web.depth"] [data-testid="ready"]')).toBe(String(rows[0]!.n));
    // uPlot draws under the CSP: its sizes go through the CSSOM, which style-src does not govern.
    await page.waitForSelector('.chart-card [data-drawn="yes"]');
    const charts = await page.$$eval('.chart-card', (cards) =>
      cards.map((card) => ({
        queue: card.querySelector('h3')?.textContent,
        drawn: card.querySelectorAll('[data-drawn="yes"] canvas').length,
      })),
    );
    expect(charts).toContainEqual({ queue: 'web.depth', drawn: 2 });
    expect(watch.cspViolations).toEqual([]);
    await saveScreenshot(page, 'overview');

    await clickAndWait('[data-queue="web.depth"] a');
    expect(await text('[data-testid="count-ready"] b')).toBe(String(rows[0]!.n));
    expect(await page.$$eval('[data-testid="message-row"]', (r) => r.length)).toBe(7);
    await saveScreenshot(page, 'queue');
    expect(watch.problems()).toEqual([]);
  });

  it('retries a dead letter by a click, and the app processes it', async () => {
    const id = await deadLetter('web.main', { order: 42 });
    await page.goto(`${base}/messages/${id}`, { waitUntil: 'load' });
    expect(await text('[data-testid="state"]')).toBe('failed');
    expect(await text('[data-testid="stack"]')).toContain('at Handler.handle');
    await saveScreenshot(page, 'message');
    await clickAndWait('[data-testid="action-retry"]');
    expect(await text('[data-testid="flash"]')).toBe('Retried 1 message.');
    await waitFor(() => processed.includes(id), 10_000, 'the retried message to be processed');
    await waitFor(
      async () => (await app.queue.getMessage(id))?.state === 'done',
      10_000,
      'the retried message to be done',
    );
    expect(watch.problems()).toEqual([]);
  });

  it('shows a hostile body as text: no script runs, no element is injected', async () => {
    const id = await app.queue.enqueue('web.hostile', { html: SCRIPT, attr: IMG });
    for (const url of [`${base}/messages/${id}`, `${base}/queues/web.hostile`]) {
      await page.goto(url, { waitUntil: 'load' });
      const seen = await page.evaluate(() => ({
        pwned: (window as unknown as Record<string, unknown>).__pwned,
        images: document.querySelectorAll('img').length,
        scripts: [...document.querySelectorAll('script')].map(
          (s) => s.getAttribute('src') ?? s.getAttribute('type'),
        ),
        text: document.querySelector('main')?.textContent ?? '',
      }));
      expect(seen.pwned).toBeUndefined();
      expect(seen.images).toBe(0);
      expect(seen.scripts.every((s) => s?.endsWith('.js') || s === 'application/json')).toBe(true);
      expect(seen.text).toContain(url.includes('/messages/') ? SCRIPT : 'window.__pwned=1');
    }
    expect(await text('[data-testid="message-row"] .body-preview')).toContain(
      '<script>window.__pwned=1</script>',
    );
    expect(watch.cspViolations).toEqual([]);
    expect(watch.problems()).toEqual([]);
  });

  it("pauses a second app instance's workers from the page, and resume lets them drain", async () => {
    const workers: FlowWorkers = await startFlowWorkers(
      db,
      children,
      1,
      { concurrency: 2 },
      'web.paused',
    );
    const first = await app.queue.enqueue('web.paused', {});
    await waitFor(() => workers.events.some((e) => e.kind === 'end' && e.id === first), 20_000);

    await page.goto(`${base}/queues/web.paused`, { waitUntil: 'load' });
    await clickAndWait('[data-testid="action-pause"]');
    expect(await text('[data-testid="flash"]')).toBe('Paused web.paused for every replica.');
    expect(await page.$('h1 [data-testid="paused"]')).not.toBeNull();
    const held = await app.queue.enqueueMany('web.paused', [{}, {}, {}]);
    await sleep(1_500);
    expect(workers.events.filter((e) => e.kind === 'start' && held.includes(e.id))).toEqual([]);
    await saveScreenshot(page, 'queue-paused');

    await clickAndWait('[data-testid="action-resume"]');
    await waitFor(
      () => held.every((id) => workers.events.some((e) => e.kind === 'end' && e.id === id)),
      20_000,
      'the second instance to drain after resume',
    );
    expect(watch.problems()).toEqual([]);
  });

  it('confirms a bulk retry and shows its progress; the other pages render', async () => {
    for (let n = 0; n < 4; n++) await deadLetter('web.bulk', { n });
    await page.goto(`${base}/queues/web.bulk?state=failed`, { waitUntil: 'load' });
    await clickAndWait('[data-testid="action-retry-all"]');
    expect(await text('[data-testid="confirm-count"]')).toBe('4');
    await saveScreenshot(page, 'confirm');
    await clickAndWait('[data-testid="confirm-yes"]');
    expect(page.url()).toMatch(/\/queues\/actions\/[0-9a-f-]{36}\?queue=web.bulk$/);
    await page.waitForFunction(
      () => document.querySelector('[data-testid="progress-state"]')?.textContent === 'finished',
      { timeout: 10_000 },
    );
    expect(await text('[data-testid="progress-remaining"]')).toBe('0');
    await saveScreenshot(page, 'progress');

    await app.queue.schedule('web-nightly', { queue: 'web.reports', cron: '0 3 * * *', body: {} });
    await page.goto(`${base}/schedules`, { waitUntil: 'load' });
    await clickAndWait('[data-schedule="web-nightly"] [data-testid="action-run-schedule"]');
    expect(await text('[data-testid="flash"]')).toMatch(
      /^Enqueued .* from schedule web-nightly\.$/,
    );
    await saveScreenshot(page, 'schedules');

    await deadLetter('web.ordered', { step: 1 }, 'customer-7');
    await app.queue.enqueue('web.ordered', { step: 2 }, { groupKey: 'customer-7' });
    await page.goto(`${base}/groups`, { waitUntil: 'load' });
    expect(await text('[data-group="customer-7"] .mono')).toBe('customer-7');
    await saveScreenshot(page, 'groups');
    await clickAndWait('[data-group="customer-7"] [data-testid="action-release-group"]');
    expect(await text('[data-testid="flash"]')).toBe(
      'Released group customer-7: 1 dead letter left it.',
    );

    // This app and the worker process, each from its own heartbeat row.
    await page.goto(`${base}/replicas`, { waitUntil: 'load' });
    const processors = await page.$$eval('[data-testid="processor"] td:first-child', (cells) =>
      cells.map((cell) => cell.textContent?.trim()),
    );
    expect(processors).toEqual(expect.arrayContaining(['web.main', 'web.paused']));
    expect(await page.$$eval('[data-testid="replica"]', (r) => r.length)).toBe(2);
    await saveScreenshot(page, 'processors');
    expect(watch.problems()).toEqual([]);
  });
});

import { describe, expect, it } from '@jest/globals';
import { html, type SafeHtml } from '../../src/dashboard/html.js';
import { chartDataOf, chartHoursOf, latestSamples } from '../../src/dashboard/pages/charts.js';
import { confirmPage } from '../../src/dashboard/pages/confirm.page.js';
import { errorPage } from '../../src/dashboard/pages/error.page.js';
import { groupsPage } from '../../src/dashboard/pages/groups.page.js';
import { gridTable } from '../../src/dashboard/pages/layout.js';
import { messagePage } from '../../src/dashboard/pages/message.page.js';
import { overviewPage } from '../../src/dashboard/pages/overview.page.js';
import { type PageContext } from '../../src/dashboard/pages/page-context.js';
import { progressPage } from '../../src/dashboard/pages/progress.page.js';
import { bodyPreview, queuePage } from '../../src/dashboard/pages/queue.page.js';
import { replicasPage } from '../../src/dashboard/pages/replicas.page.js';
import { schedulesPage } from '../../src/dashboard/pages/schedules.page.js';
import { type QueueSample } from '../../src/index.js';
import { formatAge } from '../../src/text/format-age.js';

const SCRIPT = '<script>window.__pwned=1</script>';
const IMG = '"><img src=x onerror=window.__pwned=1>';
const HOSTILE = `${SCRIPT}${IMG}`;
const now = new Date('2026-11-30T12:00:00Z');

const context: PageContext = {
  base: '/queues',
  csrfToken: 'T'.repeat(43),
  readOnly: false,
  flash: HOSTILE,
  self: '/queues',
  now,
};

/** No element or attribute came from the data: the hostile strings are text. */
function expectInert(page: SafeHtml): void {
  const text = page.text;
  expect(text).not.toContain('<script>window');
  expect(text).not.toContain('<img');
  // Every attribute of every element, values skipped: none is an event handler or a style.
  for (const [, attributes] of text.matchAll(
    /<[a-zA-Z][\w-]*((?:\s+[\w-]+(?:="[^"]*")?)*)\s*\/?>/g,
  )) {
    for (const [, name] of (attributes ?? '').matchAll(/\s([\w-]+)(?:="[^"]*")?/g)) {
      expect(name).not.toMatch(/^on|^style$/i);
    }
  }
  // Every script element loads a file or holds JSON: no inline script.
  for (const [, attributes] of text.matchAll(/<script([^>]*)>/g)) {
    expect(attributes).toMatch(/ src="\/queues\/assets\/|type="application\/json"/);
  }
  expect(text).toContain('&lt;script&gt;window.__pwned=1&lt;/script&gt;');
}

const sample = (queue: string, minute: number, extra: Partial<QueueSample> = {}): QueueSample => ({
  queue,
  minute: new Date(now.getTime() - minute * 60_000),
  ready: 5,
  leased: 1,
  failed: 0,
  done: 10,
  cancelled: 0,
  enqueued: 7,
  completed: 6,
  ...extra,
});

describe('the dashboard pages, given hostile data', () => {
  it('overview: queue names, flash and charts stay text', () => {
    const samples = [sample(HOSTILE, 2), sample(HOSTILE, 1, { enqueued: 9 })];
    const page = overviewPage(context, {
      hours: 3,
      charts: chartDataOf(samples, [HOSTILE]),
      queues: [
        {
          queue: HOSTILE,
          ready: 1234,
          leased: 1,
          failed: 2,
          done: 3,
          cancelled: 0,
          oldestReadyAgeSeconds: 75,
          paused: true,
          ratePerMinuteIn: 9,
          ratePerMinuteOut: null,
        },
      ],
    });
    expectInert(page);
    expect(page.text).toContain('1,234');
    expect(page.text).toContain('1m 15s');
    expect(page.text).toContain('data-testid="paused"');
    expect(page.text).toContain('action="/queues/actions/resume"');
    // The chart data is JSON with < escaped, readable by JSON.parse.
    const json = /<script type="application\/json" id="dashboard-charts">([\s\S]*?)<\/script>/.exec(
      page.text,
    )?.[1];
    expect(json).not.toContain('<');
    expect((JSON.parse(json ?? '') as { queue: string }[])[0]?.queue).toBe(HOSTILE);
  });

  it('queue: bodies, ids, group keys and the search stay text; read-only has no form', () => {
    const message = {
      id: HOSTILE,
      queue: HOSTILE,
      body: { note: HOSTILE },
      attempts: 3,
      state: 'failed' as const,
      availableAt: now,
      leaseUntil: null,
      createdAt: now,
      leaseToken: null,
      lastError: null,
      originQueue: null,
      priority: 0,
      uniqueKey: null,
      groupKey: HOSTILE,
      parentId: null,
    };
    const data = {
      queue: HOSTILE,
      counts: { ready: 0, leased: 0, done: 0, failed: 1, cancelled: 0, waiting_children: 0 },
      paused: false,
      search: HOSTILE,
      searchError: `Not JSON: ${HOSTILE}`,
      messages: [message],
      next: HOSTILE,
      hours: 3 as const,
      charts: [],
    };
    const page = queuePage(context, data);
    expectInert(page);
    expect(page.text).toContain('data-testid="action-retry"');
    expect(page.text).toContain('data-testid="action-retry-all"');
    const readOnly = queuePage({ ...context, readOnly: true }, data);
    expectInert(readOnly);
    expect(readOnly.text).not.toContain('method="post"');
    expect(bodyPreview({ long: 'x'.repeat(500) })).toHaveLength(140);
  });

  it('message: body, error, stack, result, progress and children stay text', () => {
    const page = messagePage(context, {
      message: {
        id: 'm-1',
        queue: HOSTILE,
        body: { html: HOSTILE, nested: [IMG] },
        attempts: 3,
        state: 'failed',
        availableAt: now,
        leaseUntil: null,
        createdAt: new Date(now.getTime() - 3_600_000),
        leaseToken: null,
        lastError: {
          name: HOSTILE,
          message: HOSTILE,
          stack: `Error: ${HOSTILE}\n    at x`,
          attempt: 3,
          failedAt: now.getTime() / 1000,
        },
        originQueue: HOSTILE,
        priority: 0,
        uniqueKey: HOSTILE,
        groupKey: HOSTILE,
        parentId: HOSTILE,
        result: HOSTILE,
        progress: { step: HOSTILE },
      },
      children: [
        {
          id: HOSTILE,
          queue: HOSTILE,
          state: 'failed',
          result: null,
          lastError: null,
          originQueue: null,
        },
      ],
    });
    expectInert(page);
    expect(page.text).toContain('1h 0m ago');
    expect(page.text).toContain('no event history');
    expect(page.text).toContain('&quot;html&quot;: &quot;&lt;script&gt;');
  });

  it('replicas, schedules, groups, confirm, progress and error pages', () => {
    const pages = [
      replicasPage(context, {
        replicas: [
          {
            id: HOSTILE,
            applicationName: HOSTILE,
            hostname: HOSTILE,
            pid: 1,
            startedAt: now,
            lastSeenAt: now,
            processors: [{ queue: HOSTILE, concurrency: 4, running: 2, paused: false }],
          },
        ],
      }),
      schedulesPage(context, {
        schedules: [
          {
            name: HOSTILE,
            queue: HOSTILE,
            cron: HOSTILE,
            timeZone: HOSTILE,
            body: HOSTILE,
            enqueueOptions: {},
            missed: 'once',
            source: 'api',
            nextTickAt: now,
            lastTickAt: null,
            createdAt: now,
            updatedAt: now,
          },
        ],
      }),
      groupsPage(context, {
        queues: [
          {
            queue: HOSTILE,
            groups: [{ groupKey: HOSTILE, reason: 'deadLetter', messageId: HOSTILE, at: now }],
          },
        ],
      }),
      confirmPage(context, {
        action: 'retry-all',
        description: 'Retry every dead letter of',
        queue: HOSTILE,
        count: 100_000,
        back: `/queues/queues/${HOSTILE}`,
      }),
      progressPage(context, {
        id: HOSTILE,
        queue: HOSTILE,
        description: 'Retry every dead letter of',
        progress: { done: 5, total: 10, finished: false, error: HOSTILE },
        remaining: 5,
      }),
      progressPage(context, { id: 'a', queue: HOSTILE, description: 'x', remaining: 7 }),
      errorPage(context, { status: 404, message: `No message has the id ${HOSTILE}.` }),
    ];
    for (const page of pages) expectInert(page);
    expect(pages[3]!.text).toContain('100,000');
    expect(pages[4]!.text).toMatch(/value="50"/);
    expect(pages[5]!.text).toContain('data-testid="progress-elsewhere"');
  });
});

describe('the grid table', () => {
  it('spans every column with its empty line, right-aligns numeric headings, and keeps rows as built', () => {
    const empty = gridTable(
      ['A', { label: 'N', numeric: true }, ''],
      [],
      `none ${SCRIPT}`,
      'things',
    ).text;
    expect(empty).toContain('data-testid="things"');
    expect(empty).toContain('<th class="num">N</th>');
    expect(empty).toMatch(/<td colspan="3" class="muted">none &lt;script&gt;/);
    const full = gridTable(
      ['A'],
      [
        html`<tr data-testid="row">
          <td>${HOSTILE}</td>
        </tr>`,
      ],
      'none',
      'things',
    ).text;
    expect(full).not.toContain('colspan');
    expect(full.replace(/>\s+</g, '><')).toContain('<tr data-testid="row"><td>&lt;script&gt;');
    expect(full.match(/<table/g)).toHaveLength(1);
    expect(full.trimEnd().endsWith('</table>')).toBe(true);
  });
});

describe('the chart data', () => {
  it('groups samples per queue, oldest first, and keeps the latest for the rates', () => {
    const samples = [sample('a', 1, { enqueued: 2 }), sample('a', 3), sample('b', 2)];
    const [a, c] = chartDataOf(samples, ['a', 'c']);
    expect(a?.minutes).toEqual([(now.getTime() - 180_000) / 1000, (now.getTime() - 60_000) / 1000]);
    expect(a?.enqueued).toEqual([7, 2]);
    expect(c?.minutes).toEqual([]);
    expect(latestSamples(samples).get('a')?.enqueued).toBe(2);
    expect(chartHoursOf('24')).toBe(24);
    expect(chartHoursOf('5')).toBe(3);
    expect(chartHoursOf(undefined)).toBe(3);
    expect(formatAge(3 * 86400 + 4 * 3600)).toBe('3d 4h');
  });
});

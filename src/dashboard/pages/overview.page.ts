import { html, type SafeHtml } from '../html.js';
import { type ChartHours, chartsSection, type QueueChartData } from './charts.js';
import { formatAge } from '../../text/format-age.js';
import { actionForm, gridTable, layout, numberCell, queueLink } from './layout.js';
import { type PageContext } from './page-context.js';

/** One queue's line of the overview. */
export interface OverviewQueue {
  readonly queue: string;
  readonly ready: number;
  readonly leased: number;
  readonly failed: number;
  readonly done: number;
  readonly cancelled: number;
  readonly oldestReadyAgeSeconds: number;
  readonly paused: boolean;
  /** Enqueued in the latest sampled minute; null before the first sample. */
  readonly ratePerMinuteIn: number | null;
  /** Ended in the latest sampled minute; null before the first sample. */
  readonly ratePerMinuteOut: number | null;
}

export interface OverviewData {
  readonly queues: readonly OverviewQueue[];
  readonly hours: ChartHours;
  readonly charts: readonly QueueChartData[];
}

/** Every queue: its counts, the age of its oldest ready message, its rates; then the charts. */
export function overviewPage(context: PageContext, data: OverviewData): SafeHtml {
  const rows = data.queues.map(
    (q) =>
      html`<tr data-testid="queue-row" data-queue="${q.queue}">
        <td>
          ${queueLink(context.base, q.queue)}${q.paused ? html` <span class="badge paused" data-testid="paused">paused</span>` : ''}
        </td>
        ${numberCell(q.ready, 'ready')}${numberCell(q.leased, 'leased')}${numberCell(q.failed, 'failed')}${numberCell(q.done, 'done')}${numberCell(q.cancelled, 'cancelled')}
        <td class="num" data-testid="oldest-ready">
          ${q.ready === 0 ? '–' : formatAge(q.oldestReadyAgeSeconds)}
        </td>
        ${numberCell(q.ratePerMinuteIn, 'rate-in')}${numberCell(q.ratePerMinuteOut, 'rate-out')}
        <td class="actions">
          ${
            q.paused
              ? actionForm(context, 'resume', { queue: q.queue }, 'Resume')
              : actionForm(context, 'pause', { queue: q.queue }, 'Pause')
          }
        </td>
      </tr>`,
  );
  const content = html`<h1>Queues</h1>
    ${gridTable(
      [
        'Queue',
        { label: 'Ready', numeric: true },
        { label: 'Leased', numeric: true },
        { label: 'Failed', numeric: true },
        { label: 'Done', numeric: true },
        { label: 'Cancelled', numeric: true },
        { label: 'Oldest ready', numeric: true },
        { label: 'In /min', numeric: true },
        { label: 'Out /min', numeric: true },
        '',
      ],
      rows,
      'No queue holds a message.',
      'queues',
    )}
    ${chartsSection(context.base, '', data.hours, data.charts)}`;
  return layout(context, { title: 'Queues', nav: 'overview', content });
}

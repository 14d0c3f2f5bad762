import {
  MESSAGE_STATES,
  type MessageState,
  type QueueMessage,
} from '../../interfaces/queue-message.interface.js';
import { type StateCounts } from '../../interfaces/queue-stats.interface.js';
import { html, type SafeHtml } from '../html.js';
import { type ChartHours, chartsSection, type QueueChartData } from './charts.js';
import {
  actionForm,
  gridTable,
  layout,
  messageLink,
  numberCell,
  stateBadge,
  timeCell,
} from './layout.js';
import { type PageContext } from './page-context.js';

export interface QueuePageData {
  readonly queue: string;
  readonly counts: StateCounts;
  readonly paused: boolean;
  /** The state listed; undefined lists every state. */
  readonly state?: MessageState;
  /** The search as typed (`id`, `field=value` or a JSON object). */
  readonly search?: string;
  /** Why the search could not run, shown instead of the list. */
  readonly searchError?: string;
  readonly messages: readonly QueueMessage[];
  /** The cursor of the next page; undefined on the last. */
  readonly next?: string;
  readonly hours: ChartHours;
  readonly charts: readonly QueueChartData[];
}

const PREVIEW = 140;

/** A body's JSON, cut to a line. */
export function bodyPreview(body: unknown): string {
  const json = JSON.stringify(body) ?? 'undefined';
  return json.length > PREVIEW ? `${json.slice(0, PREVIEW - 1)}…` : json;
}

/** One queue: counts by state, its messages (filtered, searched, paged), its actions, its charts. */
export function queuePage(context: PageContext, data: QueuePageData): SafeHtml {
  const base = context.base;
  const queuePath = `/queues/${encodeURIComponent(data.queue)}`;
  const listed = (state: MessageState | undefined, extra = ''): string =>
    `${base}${queuePath}${state === undefined ? `?${extra}` : `?state=${state}${extra === '' ? '' : `&${extra}`}`}`;
  const tabs = [
    html`<a href="${listed(undefined)}" class="${data.state === undefined ? 'tab active' : 'tab'}"
      >all</a
    >`,
    ...MESSAGE_STATES.map(
      (state) =>
        html`<a
          href="${listed(state)}"
          class="${data.state === state ? 'tab active' : 'tab'}"
          data-testid="count-${state}"
          >${state.replace('_', ' ')} <b>${data.counts[state].toLocaleString('en-US')}</b></a
        >`,
    ),
  ];
  const rows = data.messages.map(
    (m) =>
      html`<tr data-testid="message-row" data-id="${m.id}">
        <td>${messageLink(base, m.id)}</td>
        <td>${stateBadge(m.state)}</td>
        ${numberCell(m.attempts)}${numberCell(m.priority)}
        <td class="mono">${m.groupKey ?? ''}</td>
        ${timeCell(m.createdAt, context.now)}
        <td class="mono body-preview">${bodyPreview(m.body)}</td>
        <td class="actions">
          ${m.state === 'failed' ? actionForm(context, 'retry', { id: m.id, queue: data.queue }, 'Retry', 'primary') : ''}${
            m.state === 'ready' || m.state === 'leased' || m.state === 'waiting_children'
              ? actionForm(context, 'cancel', { id: m.id }, 'Cancel')
              : ''
          }
        </td>
      </tr>`,
  );
  const searchExtra = data.search === undefined ? '' : `q=${encodeURIComponent(data.search)}&`;
  const next =
    data.next === undefined
      ? ''
      : html`<a
          class="next"
          data-testid="next-page"
          href="${listed(data.state, `${searchExtra}after=${encodeURIComponent(data.next)}`)}"
          >Next page →</a
        >`;
  const failed = data.counts.failed;
  const content = html`<h1>
      ${data.queue}${data.paused ? html` <span class="badge paused" data-testid="paused">paused</span>` : ''}
    </h1>
    <div class="toolbar">
      ${data.paused ? actionForm(context, 'resume', { queue: data.queue }, 'Resume queue') : actionForm(context, 'pause', { queue: data.queue }, 'Pause queue')}
      ${failed > 0 ? actionForm(context, 'retry-all', { queue: data.queue }, `Retry all dead letters (${failed.toLocaleString('en-US')})`, 'primary') : ''}
      ${failed > 0 ? actionForm(context, 'delete-failed', { queue: data.queue }, `Delete all dead letters`, 'danger') : ''}
      <a href="${base}/groups?queue=${encodeURIComponent(data.queue)}">Blocked groups</a>
    </div>
    <nav class="tabs" data-testid="state-tabs">${tabs}</nav>
    <form method="get" action="${base}${queuePath}" class="search">
      ${data.state === undefined ? '' : html`<input type="hidden" name="state" value="${data.state}" />`}
      <input
        type="search"
        name="q"
        value="${data.search ?? ''}"
        placeholder='message id, field=value, or {"customer":"acme"}'
        aria-label="Search"
        data-testid="search"
      />
      <button type="submit">Search</button>
    </form>
    ${data.searchError === undefined ? '' : html`<p class="error" data-testid="search-error">${data.searchError}</p>`}
    ${gridTable(
      [
        'Id',
        'State',
        { label: 'Attempts', numeric: true },
        { label: 'Priority', numeric: true },
        'Group',
        'Created',
        'Body',
        '',
      ],
      rows,
      'No message.',
      'messages',
    )}
    ${next} ${chartsSection(base, queuePath, data.hours, data.charts)}`;
  return layout(context, { title: data.queue, nav: 'none', content });
}

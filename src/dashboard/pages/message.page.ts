import { type QueueMessageDetail } from '../../interfaces/message-detail.interface.js';
import { type FlowChild } from '../../interfaces/flow.interface.js';
import { html, type SafeHtml } from '../html.js';
import { actionForm, layout, messageLink, queueLink, stateBadge, timeCell } from './layout.js';
import { type PageContext } from './page-context.js';

export interface MessagePageData {
  readonly message: QueueMessageDetail;
  /** A flow parent's children; empty for any other message. */
  readonly children: readonly FlowChild[];
}

/** JSON indented, for a `<pre>`. */
export function prettyJson(value: unknown): string {
  return JSON.stringify(value, null, 2) ?? 'undefined';
}

/**
 * One message: what it carries, where it is, what its handler left. The table keeps no event
 * history, so its "history" is the times it holds: created, available, lease end, and its state.
 */
export function messagePage(context: PageContext, data: MessagePageData): SafeHtml {
  const m = data.message;
  const base = context.base;
  const now = context.now;
  const error = m.lastError;
  const live = m.state === 'ready' || m.state === 'leased' || m.state === 'waiting_children';
  const content = html`<h1>
      Message <span class="mono" data-testid="message-id">${m.id}</span> ${stateBadge(m.state)}
    </h1>
    <div class="toolbar">
      ${m.state === 'failed' ? actionForm(context, 'retry', { id: m.id, queue: m.originQueue ?? m.queue }, 'Retry', 'primary') : ''}
      ${live ? actionForm(context, 'cancel', { id: m.id }, 'Cancel') : ''}
      ${actionForm(context, 'delete', { id: m.id, queue: m.queue }, 'Delete', 'danger')}
    </div>
    <div class="columns">
      <table class="facts" data-testid="facts">
        <tr>
          <th>Queue</th>
          <td data-testid="queue">${queueLink(base, m.queue)}</td>
        </tr>
        ${
          m.originQueue === null
            ? ''
            : html`<tr>
                <th>Failed in</th>
                <td>${queueLink(base, m.originQueue)}</td>
              </tr>`
        }
        <tr>
          <th>State</th>
          <td data-testid="state">${m.state}</td>
        </tr>
        <tr>
          <th>Attempts</th>
          <td class="num" data-testid="attempts">${m.attempts}</td>
        </tr>
        <tr>
          <th>Priority</th>
          <td class="num">${m.priority}</td>
        </tr>
        <tr>
          <th>Group</th>
          <td class="mono">${m.groupKey ?? '–'}</td>
        </tr>
        <tr>
          <th>Unique key</th>
          <td class="mono">${m.uniqueKey ?? '–'}</td>
        </tr>
        ${
          m.parentId === null
            ? ''
            : html`<tr>
                <th>Parent</th>
                <td data-testid="parent">${messageLink(base, m.parentId)}</td>
              </tr>`
        }
      </table>
      <table class="facts" data-testid="history">
        <tr>
          <th>Enqueued</th>
          ${timeCell(m.createdAt, now)}
        </tr>
        <tr>
          <th>Available</th>
          ${timeCell(m.availableAt, now)}
        </tr>
        <tr>
          <th>Lease until</th>
          ${timeCell(m.leaseUntil, now)}
        </tr>
        ${
          error === null
            ? ''
            : html`<tr>
                <th>Last failure</th>
                ${timeCell(new Date(error.failedAt * 1000), now)}
              </tr>`
        }
        <tr>
          <th>Now</th>
          <td>${m.state}</td>
        </tr>
      </table>
    </div>
    <p class="muted note">
      The table keeps no event history: these are the times the message holds now.
    </p>
    <h2>Body</h2>
    <pre class="json" data-testid="body">${prettyJson(m.body)}</pre>
    ${
      error === null
        ? ''
        : html`<h2>Last error <span class="muted">attempt ${error.attempt}</span></h2>
            <div class="error-box" data-testid="last-error">
              <p><b>${error.name}</b>: ${error.message}</p>
              ${error.stack === undefined ? '' : html`<pre class="stack" data-testid="stack">${error.stack}</pre>`}
              ${error.details === undefined ? '' : html`<pre class="json">${prettyJson(error.details)}</pre>`}
            </div>`
    }
    <h2>Result</h2>
    <pre class="json" data-testid="result">${m.result === null ? '–' : prettyJson(m.result)}</pre>
    <h2>Progress</h2>
    <pre class="json" data-testid="progress">
${m.progress === null || m.progress === undefined ? '–' : prettyJson(m.progress)}</pre>
    ${
      data.children.length === 0
        ? ''
        : html`<h2>Children</h2>
            <table class="grid" data-testid="children">
              <thead>
                <tr>
                  <th>Id</th>
                  <th>Queue</th>
                  <th>State</th>
                  <th>Error</th>
                </tr>
              </thead>
              <tbody>
                ${data.children.map(
                  (child) =>
                    html`<tr>
                      <td>${messageLink(base, child.id)}</td>
                      <td>${queueLink(base, child.queue)}</td>
                      <td>${stateBadge(child.state)}</td>
                      <td>${child.lastError?.message ?? ''}</td>
                    </tr>`,
                )}
              </tbody>
            </table>`
    }`;
  return layout(context, { title: `Message ${m.id}`, nav: 'none', content });
}

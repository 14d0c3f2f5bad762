import { html, type SafeHtml } from '../html.js';
import { layout, queueLink } from './layout.js';
import { type PageContext } from './page-context.js';

/** A long action as this process knows it, or only the database's count when another ran it. */
export interface ProgressPageData {
  readonly id: string;
  readonly queue: string;
  readonly description: string;
  /** Undefined when this process does not run the action (another replica does, or it restarted). */
  readonly progress?: {
    readonly done: number;
    readonly total: number;
    readonly finished: boolean;
    readonly error?: string;
  };
  /** Dead letters of the queue left now, from the database. */
  readonly remaining: number;
}

/**
 * A long action's progress, refreshed by dashboard.js from `actions/<id>/state` while it runs (the
 * `data-` attributes say where). Without JavaScript the numbers are those of the page's load.
 */
export function progressPage(context: PageContext, data: ProgressPageData): SafeHtml {
  const p = data.progress;
  const percent =
    p === undefined || p.total === 0 ? 100 : Math.min(100, Math.round((p.done / p.total) * 100));
  const content = html`<h1>${data.description} ${queueLink(context.base, data.queue)}</h1>
    <div
      class="progress-box"
      data-testid="progress"
      data-progress-url="${context.base}/actions/${encodeURIComponent(data.id)}/state?queue=${encodeURIComponent(data.queue)}"
      data-finished="${p === undefined || p.finished ? 'yes' : 'no'}"
    >
      ${
        p === undefined
          ? html`<p data-testid="progress-elsewhere">
              This replica does not run this action (another one does, or it ended before a
              restart): its progress is kept in the memory of the process running it.
            </p>`
          : html`<progress max="100" value="${percent}" data-testid="progress-bar"></progress>
              <p>
                <b data-testid="progress-done">${p.done.toLocaleString('en-US')}</b> of
                <span data-testid="progress-total">${p.total.toLocaleString('en-US')}</span> retried
                ·
                <span data-testid="progress-state"
                  >${p.error !== undefined ? `failed: ${p.error}` : p.finished ? 'finished' : 'running'}</span
                >
              </p>`
      }
      <p>
        Dead letters left in the queue:
        <b data-testid="progress-remaining">${data.remaining.toLocaleString('en-US')}</b>
      </p>
    </div>`;
  return layout(context, { title: 'Progress', nav: 'none', content });
}

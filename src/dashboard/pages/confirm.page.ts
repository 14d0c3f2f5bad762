import { html, type SafeHtml } from '../html.js';
import { layout, queueLink } from './layout.js';
import { type PageContext } from './page-context.js';

export interface ConfirmPageData {
  /** The action's route name, posted again with `confirm=yes`. */
  readonly action: string;
  /** What it does, e.g. "Retry every dead letter of". */
  readonly description: string;
  readonly queue: string;
  /** How many messages it takes now. */
  readonly count: number;
  /** Where "cancel" goes back to. */
  readonly back: string;
}

/** The second step of a bulk action: how many messages, and a button that posts `confirm=yes`. */
export function confirmPage(context: PageContext, data: ConfirmPageData): SafeHtml {
  const content = html`<h1>Confirm</h1>
    <div class="confirm" data-testid="confirm">
      <p>
        ${data.description} ${queueLink(context.base, data.queue)}:
        <b data-testid="confirm-count">${data.count.toLocaleString('en-US')}</b>
        message${data.count === 1 ? '' : 's'}.
      </p>
      <form method="post" action="${context.base}/actions/${data.action}">
        <input type="hidden" name="_csrf" value="${context.csrfToken}" />
        <input type="hidden" name="back" value="${data.back}" />
        <input type="hidden" name="queue" value="${data.queue}" />
        <input type="hidden" name="confirm" value="yes" />
        <button type="submit" class="danger" data-testid="confirm-yes">
          Yes, ${data.count.toLocaleString('en-US')} message${data.count === 1 ? '' : 's'}
        </button>
        <a href="${data.back}">Cancel</a>
      </form>
    </div>`;
  return layout(context, { title: 'Confirm', nav: 'none', content });
}

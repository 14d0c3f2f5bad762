import { html, type SafeHtml } from '../html.js';
import { layout } from './layout.js';
import { type PageContext } from './page-context.js';

/** A refusal or a failure: its status and message, as text. */
export function errorPage(
  context: PageContext,
  data: { readonly status: number; readonly message: string },
): SafeHtml {
  const content = html`<h1>${data.status}</h1>
    <p class="error" data-testid="error-message">${data.message}</p>
    <p><a href="${context.base}">Back to the queues</a></p>`;
  return layout(context, { title: String(data.status), nav: 'none', content });
}

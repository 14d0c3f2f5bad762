import { html, type HtmlValue, type SafeHtml } from '../html.js';
import { type NavEntry, type PageContext } from './page-context.js';
import { formatAge } from '../../text/format-age.js';

const NAV: readonly { readonly entry: NavEntry; readonly label: string; readonly path: string }[] =
  [
    { entry: 'overview', label: 'Queues', path: '' },
    { entry: 'replicas', label: 'Processors', path: '/replicas' },
    { entry: 'schedules', label: 'Schedules', path: '/schedules' },
    { entry: 'groups', label: 'Blocked groups', path: '/groups' },
  ];

/** A whole page: head (stylesheets, deferred scripts: no inline script), nav bar, flash, content. */
export function layout(
  context: PageContext,
  page: { readonly title: string; readonly nav: NavEntry; readonly content: SafeHtml },
): SafeHtml {
  const base = context.base;
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="referrer" content="same-origin" />
        <title>${page.title} · queues</title>
        <link rel="stylesheet" href="${base}/assets/uPlot.min.css" />
        <link rel="stylesheet" href="${base}/assets/dashboard.css" />
        <script src="${base}/assets/uPlot.iife.min.js" defer></script>
        <script src="${base}/assets/dashboard.js" defer></script>
      </head>
      <body>
        <header class="bar">
          <a class="brand" href="${base}">fetchcraft queue</a>
          <nav>
            ${NAV.map(
              (item) =>
                html`<a
                  href="${base}${item.path}"
                  ${item.entry === page.nav ? html` class="active" aria-current="page"` : ''}
                  >${item.label}</a
                >`,
            )}
          </nav>
          ${context.readOnly ? html`<span class="badge readonly" data-testid="read-only">read-only</span>` : ''}
        </header>
        <main>
          ${context.flash === undefined || context.flash === '' ? '' : html`<p class="flash" role="status" data-testid="flash">${context.flash}</p>`}
          ${page.content}
        </main>
      </body>
    </html> `;
}

/**
 * A POST form of one action: the CSRF token, where to come back to, the fields, one button.
 * Nothing in read-only mode.
 */
export function actionForm(
  context: PageContext,
  action: string,
  fields: Readonly<Record<string, string>>,
  label: string,
  kind: 'primary' | 'danger' | 'plain' = 'plain',
): SafeHtml {
  if (context.readOnly) return html``;
  return html`<form method="post" action="${context.base}/actions/${action}" class="inline">
    <input type="hidden" name="_csrf" value="${context.csrfToken}" /><input
      type="hidden"
      name="back"
      value="${context.self}"
    />${Object.entries(fields).map(
      ([name, value]) => html`<input type="hidden" name="${name}" value="${value}" />`,
    )}<button type="submit" class="${kind}" data-testid="action-${action}">${label}</button>
  </form>`;
}

/** A state as a coloured label. */
export function stateBadge(state: string): SafeHtml {
  return html`<span class="state state-${state}">${state.replace('_', ' ')}</span>`;
}

/** A number right-aligned in a table cell. */
export function numberCell(value: number | null | undefined, testid?: string): SafeHtml {
  const text = value === null || value === undefined ? '–' : value.toLocaleString('en-US');
  return html`<td class="num" ${testid === undefined ? '' : html` data-testid="${testid}"`}>
    ${text}
  </td>`;
}

/** A time as ISO text, UTC, to the second, with how long ago (or how far ahead). */
export function timeText(at: Date | null | undefined, now: Date): SafeHtml {
  if (at === null || at === undefined) return html`–`;
  const iso = at
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, 'Z');
  const delta = (now.getTime() - at.getTime()) / 1000;
  const relative = delta >= 0 ? `${formatAge(delta)} ago` : `in ${formatAge(-delta)}`;
  return html`<time datetime="${at.toISOString()}">${iso}</time>
    <span class="muted">${relative}</span>`;
}

/** {@link timeText} in a table cell. */
export function timeCell(at: Date | null | undefined, now: Date): SafeHtml {
  return html`<td>${timeText(at, now)}</td>`;
}

/** A link to a queue's page. */
export function queueLink(base: string, queue: string): SafeHtml {
  return html`<a href="${base}/queues/${encodeURIComponent(queue)}">${queue}</a>`;
}

/** A link to a message's page. */
export function messageLink(base: string, id: string, label: HtmlValue = id): SafeHtml {
  return html`<a class="mono" href="${base}/messages/${encodeURIComponent(id)}">${label}</a>`;
}

/** A column of {@link gridTable}: its heading, and `numeric` for right-aligned numbers. */
export interface GridColumn {
  readonly label: string;
  readonly numeric?: boolean;
}

/**
 * The dashboard's one table: a heading per column, the rows, and `empty` spanning every column
 * when there is none (the span follows the columns, so the two never disagree).
 */
export function gridTable(
  columns: readonly (string | GridColumn)[],
  rows: readonly SafeHtml[],
  empty: string,
  testId: string,
): SafeHtml {
  const headings = columns.map((column) => {
    const { label, numeric } = typeof column === 'string' ? { label: column } : column;
    return numeric === true ? html`<th class="num">${label}</th>` : html`<th>${label}</th>`;
  });
  const body =
    rows.length === 0
      ? html`<tr>
          <td colspan="${columns.length}" class="muted">${empty}</td>
        </tr>`
      : rows;
  return html`<table class="grid" data-testid="${testId}">
    <thead>
      <tr>
        ${headings}
      </tr>
    </thead>
    <tbody>
      ${body}
    </tbody>
  </table>`;
}

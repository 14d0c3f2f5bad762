import { type ScheduleInfo } from '../../interfaces/schedule-options.interface.js';
import { html, type SafeHtml } from '../html.js';
import { actionForm, gridTable, layout, queueLink, timeCell } from './layout.js';
import { type PageContext } from './page-context.js';

/** Every recurring message, with its next and last tick, and "run now". */
export function schedulesPage(
  context: PageContext,
  data: { readonly schedules: readonly ScheduleInfo[] },
): SafeHtml {
  const rows = data.schedules.map(
    (s) =>
      html`<tr data-testid="schedule" data-schedule="${s.name}">
        <td class="mono">${s.name}</td>
        <td>${queueLink(context.base, s.queue)}</td>
        <td class="mono">${s.cron}</td>
        <td>${s.timeZone}</td>
        ${timeCell(s.nextTickAt, context.now)}${timeCell(s.lastTickAt, context.now)}
        <td>${s.source}</td>
        <td class="mono body-preview">${JSON.stringify(s.body) ?? 'null'}</td>
        <td class="actions">${actionForm(context, 'run-schedule', { name: s.name }, 'Run now')}</td>
      </tr>`,
  );
  const content = html`<h1>Schedules</h1>
    ${gridTable(
      ['Name', 'Queue', 'Cron', 'Time zone', 'Next tick', 'Last tick', 'Source', 'Body', ''],
      rows,
      'No schedule.',
      'schedules',
    )}`;
  return layout(context, { title: 'Schedules', nav: 'schedules', content });
}

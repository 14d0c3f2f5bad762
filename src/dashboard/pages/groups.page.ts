import { type BlockedGroup } from '../../interfaces/blocked-group.interface.js';
import { html, type SafeHtml } from '../html.js';
import { actionForm, layout, messageLink, queueLink, timeCell } from './layout.js';
import { type PageContext } from './page-context.js';

export interface GroupsPageData {
  readonly queues: readonly { readonly queue: string; readonly groups: readonly BlockedGroup[] }[];
}

/** The ordered groups that cannot go on, per queue, and "release" for those a dead letter holds. */
export function groupsPage(context: PageContext, data: GroupsPageData): SafeHtml {
  const withGroups = data.queues.filter((entry) => entry.groups.length > 0);
  const sections = withGroups.map(
    (entry) =>
      html`<section>
        <h2>${queueLink(context.base, entry.queue)}</h2>
        <table class="grid">
          <thead>
            <tr>
              <th>Group</th>
              <th>Reason</th>
              <th>Message</th>
              <th>Since / due</th>
              <th></th>
            </tr>
          </thead>
          <tbody>
            ${entry.groups.map(
              (g) =>
                html`<tr data-testid="blocked-group" data-group="${g.groupKey}">
                  <td class="mono">${g.groupKey}</td>
                  <td>
                    ${g.reason === 'deadLetter' ? html`<span class="state state-failed">dead letter</span>` : html`<span class="state state-ready">waiting</span>`}
                  </td>
                  <td>${messageLink(context.base, g.messageId)}</td>
                  ${timeCell(g.at, context.now)}
                  <td class="actions">
                    ${g.reason === 'deadLetter' ? actionForm(context, 'release-group', { queue: entry.queue, group: g.groupKey }, 'Release') : ''}
                  </td>
                </tr>`,
            )}
          </tbody>
        </table>
      </section>`,
  );
  const content = html`<h1>Blocked groups</h1>
    ${sections.length === 0 ? html`<p class="muted" data-testid="no-groups">No ordered group is blocked.</p>` : sections}`;
  return layout(context, { title: 'Blocked groups', nav: 'groups', content });
}

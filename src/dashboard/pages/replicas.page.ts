import { type QueueReplica } from '../../interfaces/queue-replica.interface.js';
import { html, type SafeHtml } from '../html.js';
import { gridTable, layout, numberCell, queueLink, timeText } from './layout.js';
import { type PageContext } from './page-context.js';

/** Every replica's processors, from the heartbeat table: a page on one pod sees all pods. */
export function replicasPage(
  context: PageContext,
  data: { readonly replicas: readonly QueueReplica[] },
): SafeHtml {
  const sections = data.replicas.map(
    (replica) =>
      html`<section class="replica" data-testid="replica" data-replica="${replica.id}">
        <h2>
          ${replica.applicationName}
          <span class="muted mono">${replica.hostname} · pid ${replica.pid}</span>
        </h2>
        <p class="muted">
          started ${timeText(replica.startedAt, context.now)} · last heartbeat
          ${timeText(replica.lastSeenAt, context.now)}
        </p>
        ${gridTable(
          [
            'Queue',
            { label: 'Running', numeric: true },
            { label: 'Concurrency', numeric: true },
            'Worker',
          ],
          replica.processors.map(
            (p) =>
              html`<tr data-testid="processor">
                <td>${queueLink(context.base, p.queue)}</td>
                ${numberCell(p.running, 'running')}${numberCell(p.concurrency)}
                <td>${p.paused ? html`<span class="badge paused">paused</span>` : 'fetching'}</td>
              </tr>`,
          ),
          'No processor.',
          'processors',
        )}
      </section>`,
  );
  const content = html`<h1>Processors by replica</h1>
    ${sections.length === 0 ? html`<p class="muted" data-testid="no-replicas">No replica has reported a heartbeat.</p>` : sections}`;
  return layout(context, { title: 'Processors', nav: 'replicas', content });
}

import { type Logger } from '@nestjs/common';
import { type QueueService } from '../queue.service.js';
import { type ActionProgress } from './action-progress.js';
import { DashboardRefusal } from './dashboard-refusal.js';

/** What an action came to, for the controller to answer with. */
export type ActionOutcome =
  /** Done: back to the page it came from (or to `queue`'s page) with `flash`. */
  | { readonly kind: 'done'; readonly flash: string; readonly queuePage?: string }
  /** A bulk action's first step: the confirmation page. */
  | {
      readonly kind: 'confirm';
      readonly action: BulkAction;
      readonly description: string;
      readonly queue: string;
      readonly count: number;
    }
  /** Started in the background: its progress page. */
  | { readonly kind: 'started'; readonly id: string; readonly queue: string };

type BulkAction = 'retry-all' | 'delete-failed';

const BULK_DESCRIPTION: Readonly<Record<BulkAction, string>> = {
  'retry-all': 'Retry every dead letter of',
  'delete-failed': 'Delete every dead letter (state failed) of',
};

/**
 * The dashboard's actions, by name, on the fields of their form: each one validated by the
 * `QueueService` call it makes, and logged with who did it, what, on what, and how many messages
 * it touched (never a body).
 */
export class DashboardActions {
  constructor(
    private readonly queue: QueueService,
    private readonly progress: ActionProgress,
    private readonly logger: Logger,
  ) {}

  async run(
    action: string,
    form: Readonly<Record<string, string>>,
    actor: string,
  ): Promise<ActionOutcome> {
    const { id, queue, name, group } = form;
    const done = (flash: string, count: number, target: Record<string, string | undefined>) => {
      this.log(actor, action, target, count);
      return { kind: 'done', flash } as const;
    };
    switch (action) {
      case 'retry': {
        const count = await this.queue.retryFailed(required(queue, 'queue'), [required(id, 'id')]);
        return done(
          count === 1
            ? 'Retried 1 message.'
            : 'Nothing retried: the message is not a dead letter of this queue any more.',
          count,
          { queue, id },
        );
      }
      case 'cancel': {
        const result = await this.queue.cancel(required(id, 'id'));
        const count = result === 'cancelled' || result === 'requested' ? 1 : 0;
        return done(`Cancel: ${result}.`, count, { id });
      }
      case 'delete': {
        const existed = await this.queue.deleteMessage(required(id, 'id'));
        this.log(actor, action, { queue, id }, existed ? 1 : 0);
        return {
          kind: 'done',
          flash: existed ? 'Deleted 1 message.' : 'Nothing deleted: no message has this id.',
          // The message's own page is gone: back to its queue's.
          ...(queue === undefined || queue === '' ? {} : { queuePage: queue }),
        };
      }
      case 'pause':
        await this.queue.pause(required(queue, 'queue'));
        return done(`Paused ${queue} for every replica.`, 1, { queue });
      case 'resume':
        await this.queue.resume(required(queue, 'queue'));
        return done(`Resumed ${queue}.`, 1, { queue });
      case 'release-group': {
        const count = await this.queue.releaseGroup(
          required(queue, 'queue'),
          required(group, 'group'),
        );
        return done(
          `Released group ${group}: ${count} dead letter${count === 1 ? '' : 's'} left it.`,
          count,
          { queue, group },
        );
      }
      case 'run-schedule': {
        const created = await this.queue.runScheduleNow(required(name, 'name'));
        if (created === null) throw new DashboardRefusal(`No schedule is named ${name}.`, 404);
        return done(`Enqueued ${created} from schedule ${name}.`, 1, {
          schedule: name,
          id: created,
        });
      }
      case 'retry-all':
      case 'delete-failed':
        return this.bulk(action, required(queue, 'queue'), form['confirm'] === 'yes', actor);
      default:
        throw new DashboardRefusal(`No action is named ${action}.`, 404);
    }
  }

  /** A bulk action: the count to confirm first; then, confirmed, the work. */
  private async bulk(
    action: BulkAction,
    queue: string,
    confirmed: boolean,
    actor: string,
  ): Promise<ActionOutcome> {
    const stats = await this.queue.getStats(queue);
    const count =
      action === 'retry-all' ? stats.failedMessages : (stats.byQueue[queue]?.failed ?? 0);
    const description = BULK_DESCRIPTION[action];
    if (!confirmed) return { kind: 'confirm', action, description, queue, count };
    if (action === 'delete-failed') {
      const deleted = await this.queue.clearQueue(queue, 'failed');
      this.log(actor, action, { queue }, deleted);
      return { kind: 'done', flash: `Deleted ${deleted} dead letter${deleted === 1 ? '' : 's'}.` };
    }
    this.logger.log(`${describe(actor, action, { queue })}: started, ${count} dead letters`);
    const id = this.progress.start(
      queue,
      description,
      count,
      (onBatch) => this.queue.retryFailedInBatches(queue, { onBatch }),
      (state) =>
        state.error === undefined
          ? this.log(actor, action, { queue }, state.done)
          : this.logger.error(
              `${describe(actor, action, { queue })} failed after ${state.done}: ${state.error}`,
            ),
    );
    return { kind: 'started', id, queue };
  }

  private log(
    actor: string,
    action: string,
    target: Record<string, string | undefined>,
    count: number,
  ): void {
    this.logger.log(`${describe(actor, action, target)}: ${count}`);
  }
}

/** `"alice" retry queue="orders" id="…"`: values quoted as JSON, so none can forge a log line. */
function describe(actor: string, action: string, target: Record<string, string | undefined>) {
  const fields = Object.entries(target)
    .filter(([, value]) => value !== undefined)
    .map(([name, value]) => `${name}=${JSON.stringify(value)}`);
  return [JSON.stringify(actor), action, ...fields].join(' ');
}

function required(value: string | undefined, field: string): string {
  if (value === undefined || value === '') {
    throw new DashboardRefusal(`The form lacks ${field}.`, 400);
  }
  return value;
}

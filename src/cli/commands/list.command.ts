import { DEFAULT_LIST_LIMIT } from '../../config/defaults.js';
import { QueueValidationError } from '../../errors/queue-validation.error.js';
import { CLI_EXIT, printJson, type CliCommand } from '../cli-command.js';
import { isUsageProblem, listSettings } from '../operator-args.js';
import { listLines, STATE_NAMES } from '../operator-format.js';
import { refuseUsage, targetLine } from '../operator-output.js';
import { withOperator } from '../with-operator.js';

/** `list`: one page of a queue's messages in enqueue order, filtered, and the next page's cursor. */
export const listCommand: CliCommand = {
  name: 'list',
  summary: "One page of a queue's messages, oldest first; prints the cursor of the next page",
  options: [
    { name: 'queue', type: 'string', valueName: '<name>', summary: 'The queue (required)' },
    { name: 'state', type: 'string', valueName: '<state>', summary: `Only ${STATE_NAMES}` },
    {
      name: 'older-than',
      type: 'string',
      valueName: '<seconds>',
      summary: 'Only messages created at least this long ago',
    },
    {
      name: 'where',
      type: 'string',
      valueName: '<json>',
      summary: `Only bodies containing this JSON object (body @> json), e.g. '{"customer":"acme"}'`,
    },
    {
      name: 'limit',
      type: 'string',
      valueName: '<n>',
      summary: `Messages per page (default ${DEFAULT_LIST_LIMIT})`,
    },
    {
      name: 'after',
      type: 'string',
      valueName: '<id>',
      summary: 'Start after this message: the cursor the previous page printed',
    },
  ],
  async run(target, output, input) {
    const filter = listSettings(input);
    if (isUsageProblem(filter)) return refuseUsage(output, filter);
    const page = await withOperator(target, async (operator) => ({
      table: operator.table,
      page: await operator.store.listMessages(filter),
    }));
    if (!page.page.afterFound) {
      throw new QueueValidationError(
        '--after',
        `must be the id of a message that still exists: ${filter.afterId ?? ''} is gone; list again without --after`,
      );
    }
    const { messages, more } = page.page;
    const next = more ? (messages[messages.length - 1]?.id ?? null) : null;
    if (input.json) {
      printJson(output, { table: page.table, filter, messages, next });
      return CLI_EXIT.ok;
    }
    output.out(targetLine(target));
    for (const line of listLines(messages, next, new Date())) output.out(line);
    return CLI_EXIT.ok;
  },
};

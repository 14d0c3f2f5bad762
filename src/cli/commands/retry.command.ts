import { CLI_EXIT, printJson, type CliCommand } from '../cli-command.js';
import { isUsageProblem, retrySettings } from '../operator-args.js';
import { refuseUsage, targetLine } from '../operator-output.js';
import { withOperator } from '../with-operator.js';

/**
 * `retry`: dead letters back where they failed, due now with fresh attempts, as
 * `QueueService.retryFailed` puts them back (asked by a dead-letter queue's name, the messages
 * moved into it go back to their origin queue).
 */
export const retryCommand: CliCommand = {
  name: 'retry',
  summary: 'Put dead letters back to ready with fresh attempts (those listFailed lists)',
  options: [
    {
      name: 'queue',
      type: 'string',
      valueName: '<name>',
      summary: 'The queue they failed in, or its dead-letter queue (required)',
    },
    { name: 'ids', type: 'string', valueName: '<id,id,…>', summary: 'These dead letters only' },
    { name: 'all', type: 'boolean', summary: 'Every dead letter of the queue' },
  ],
  async run(target, output, input) {
    const settings = retrySettings(input);
    if (isUsageProblem(settings)) return refuseUsage(output, settings);
    const retried = await withOperator(target, (operator) =>
      operator.queue.retryFailed(settings.queue, settings.ids),
    );
    if (input.json) {
      printJson(output, { ...settings, retried });
      return CLI_EXIT.ok;
    }
    output.out(targetLine(target));
    if (settings.ids === undefined) {
      output.out(`Put back ${retried} dead letter${retried === 1 ? '' : 's'} of ${settings.queue}`);
    } else {
      output.out(
        `Put back ${retried} of the ${settings.ids.length} dead letter${settings.ids.length === 1 ? '' : 's'} given, of ${settings.queue}`,
      );
      if (retried < settings.ids.length) {
        output.out(
          'The others are not dead letters of this queue, are leased, or their unique key is taken',
        );
      }
    }
    return CLI_EXIT.ok;
  },
};

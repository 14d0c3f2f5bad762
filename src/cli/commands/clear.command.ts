import { CLI_EXIT, printJson, type CliCommand } from '../cli-command.js';
import { clearSettings, isUsageProblem } from '../operator-args.js';
import { STATE_NAMES } from '../operator-format.js';
import { refuseUsage, targetLine } from '../operator-output.js';
import { withOperator } from '../with-operator.js';

/** `clear`: deletes a queue's messages, or those in one state; only with `--yes`. */
export const clearCommand: CliCommand = {
  name: 'clear',
  summary: "Delete a queue's messages, or those in one state (needs --yes)",
  options: [
    { name: 'queue', type: 'string', valueName: '<name>', summary: 'The queue (required)' },
    { name: 'state', type: 'string', valueName: '<state>', summary: `Only ${STATE_NAMES}` },
    { name: 'yes', type: 'boolean', summary: 'Confirm: the messages are deleted for good' },
  ],
  async run(target, output, input) {
    const settings = clearSettings(input);
    if (isUsageProblem(settings)) return refuseUsage(output, settings);
    const deleted = await withOperator(target, (operator) =>
      operator.queue.clearQueue(settings.queue, settings.state),
    );
    if (input.json) {
      printJson(output, { ...settings, deleted });
      return CLI_EXIT.ok;
    }
    output.out(targetLine(target));
    output.out(
      `Deleted ${deleted} ${settings.state === undefined ? '' : `${settings.state} `}message${deleted === 1 ? '' : 's'} of ${settings.queue}`,
    );
    return CLI_EXIT.ok;
  },
};

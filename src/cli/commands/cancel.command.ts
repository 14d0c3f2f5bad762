import { CLI_EXIT, printJson, type CliCommand } from '../cli-command.js';
import { idArgument, queueOption } from '../operator-args.js';
import { cancelLine } from '../operator-format.js';
import { targetLine } from '../operator-output.js';
import { withOperator } from '../with-operator.js';

/** `cancel <id>`: `QueueService.cancel`, its flow's descendants with it. */
export const cancelCommand: CliCommand = {
  name: 'cancel',
  argument: '<id>',
  summary: 'Cancel one message (and its flow descendants); prints what happened',
  options: [
    { name: 'queue', type: 'string', valueName: '<name>', summary: 'Only if it is in this queue' },
  ],
  async run(target, output, input) {
    const id = idArgument(input);
    const queue = queueOption(input.options);
    const result = await withOperator(target, (operator) =>
      operator.queue.cancel(id, queue === undefined ? undefined : { queue }),
    );
    if (input.json) {
      printJson(output, { id, result });
    } else {
      output.out(targetLine(target));
      if (result !== 'notFound') output.out(cancelLine(id, result));
    }
    if (result === 'notFound') {
      output.err(
        `No message ${id}${queue === undefined ? '' : ` in queue ${queue}`} in ${targetLine(target)}`,
      );
      return CLI_EXIT.notFound;
    }
    return CLI_EXIT.ok;
  },
};

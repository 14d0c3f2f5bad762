import { CLI_EXIT, printJson, type CliCommand } from '../cli-command.js';
import { idArgument } from '../operator-args.js';
import { messageLines } from '../operator-format.js';
import { targetLine } from '../operator-output.js';
import { withOperator } from '../with-operator.js';

/** `show <id>`: one message in full, whatever its queue or state. */
export const showCommand: CliCommand = {
  name: 'show',
  argument: '<id>',
  summary: 'One message in full: body, state, attempts, last error, result, progress, times',
  async run(target, output, input) {
    const id = idArgument(input);
    const message = await withOperator(target, (operator) => operator.queue.getMessage(id));
    if (message === null) {
      if (input.json) printJson(output, { id, found: false });
      output.err(`No message ${id} in ${targetLine(target)}`);
      return CLI_EXIT.notFound;
    }
    if (input.json) {
      printJson(output, message);
      return CLI_EXIT.ok;
    }
    output.out(targetLine(target));
    for (const line of messageLines(message, new Date())) output.out(line);
    return CLI_EXIT.ok;
  },
};

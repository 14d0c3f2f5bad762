import { CLI_EXIT, printJson, type CliCommand } from '../cli-command.js';
import { idArgument } from '../operator-args.js';
import { targetLine } from '../operator-output.js';
import { withOperator } from '../with-operator.js';

/** `delete <id>`: one message, whatever its state. */
export const deleteCommand: CliCommand = {
  name: 'delete',
  argument: '<id>',
  summary: 'Delete one message, whatever its state',
  async run(target, output, input) {
    const id = idArgument(input);
    const deleted = await withOperator(target, (operator) => operator.queue.deleteMessage(id));
    if (input.json) {
      printJson(output, { id, deleted });
    } else {
      output.out(targetLine(target));
      if (deleted) output.out(`Deleted ${id}`);
    }
    if (!deleted) {
      output.err(`No message ${id} in ${targetLine(target)}`);
      return CLI_EXIT.notFound;
    }
    return CLI_EXIT.ok;
  },
};

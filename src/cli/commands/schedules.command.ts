import { CLI_EXIT, printJson, type CliCommand } from '../cli-command.js';
import { scheduleLines } from '../operator-format.js';
import { targetLine } from '../operator-output.js';
import { withOperator } from '../with-operator.js';

/** `schedules`: the recurring messages of the table, soonest next tick first. */
export const schedulesCommand: CliCommand = {
  name: 'schedules',
  summary: 'List the recurring schedules with their next and last tick',
  async run(target, output, input) {
    const schedules = await withOperator(target, (operator) => operator.queue.listSchedules());
    if (input.json) {
      printJson(output, { schedules });
      return CLI_EXIT.ok;
    }
    output.out(targetLine(target));
    for (const line of scheduleLines(schedules, new Date())) output.out(line);
    return CLI_EXIT.ok;
  },
};

import { CLI_EXIT, printJson, type CliCommand } from '../cli-command.js';
import { isUsageProblem, pausedQueueSettings } from '../operator-args.js';
import { refuseUsage, targetLine } from '../operator-output.js';
import { withOperator } from '../with-operator.js';

/** `pause`: no worker of any replica leases from the queue until `resume` (`QueueService.pause`). */
export const pauseCommand: CliCommand = {
  name: 'pause',
  summary: 'Pause a queue for every replica until resume; running handlers finish',
  options: [
    { name: 'queue', type: 'string', valueName: '<name>', summary: 'The queue (required)' },
  ],
  async run(target, output, input) {
    const queue = pausedQueueSettings(input, 'pause');
    if (isUsageProblem(queue)) return refuseUsage(output, queue);
    await withOperator(target, (operator) => operator.queue.pause(queue));
    if (input.json) {
      printJson(output, { queue, paused: true });
      return CLI_EXIT.ok;
    }
    output.out(targetLine(target));
    output.out(`Paused ${queue}: no worker leases from it until 'resume --queue ${queue}'`);
    return CLI_EXIT.ok;
  },
};

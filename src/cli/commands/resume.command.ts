import { CLI_EXIT, printJson, type CliCommand } from '../cli-command.js';
import { isUsageProblem, pausedQueueSettings } from '../operator-args.js';
import { refuseUsage, targetLine } from '../operator-output.js';
import { withOperator } from '../with-operator.js';

/** `resume`: the queue's workers lease again (`QueueService.resume`). */
export const resumeCommand: CliCommand = {
  name: 'resume',
  summary: 'Resume a paused queue for every replica',
  options: [
    { name: 'queue', type: 'string', valueName: '<name>', summary: 'The queue (required)' },
  ],
  async run(target, output, input) {
    const queue = pausedQueueSettings(input, 'resume');
    if (isUsageProblem(queue)) return refuseUsage(output, queue);
    await withOperator(target, (operator) => operator.queue.resume(queue));
    if (input.json) {
      printJson(output, { queue, paused: false });
      return CLI_EXIT.ok;
    }
    output.out(targetLine(target));
    output.out(`Resumed ${queue}`);
    return CLI_EXIT.ok;
  },
};

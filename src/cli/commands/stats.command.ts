import { CLI_EXIT, printJson, type CliCommand } from '../cli-command.js';
import { queueOption } from '../operator-args.js';
import { statsLines, statsReport } from '../operator-format.js';
import { targetLine } from '../operator-output.js';
import { withOperator } from '../with-operator.js';

/**
 * `stats`: counts per queue and state, with the oldest due message's age and the pause. Two
 * reads: `getStats` counts every row of the queues asked for (exact, but a scan on a deep
 * backlog), the depth read finds each queue's oldest due message on the ready index.
 */
export const statsCommand: CliCommand = {
  name: 'stats',
  summary: 'Messages per queue and state, the oldest ready age, and which queues are paused',
  options: [{ name: 'queue', type: 'string', valueName: '<name>', summary: 'One queue only' }],
  async run(target, output, input) {
    const queue = queueOption(input.options);
    const report = await withOperator(target, async (operator) => {
      const stats = await operator.queue.getStats(queue);
      // Counted up to 1: the exact counts come from getStats; only the age and pause are read.
      const depths = await operator.store.depths(1);
      return { table: operator.table, ...statsReport(stats, depths, queue) };
    });
    if (input.json) {
      printJson(output, report);
      return CLI_EXIT.ok;
    }
    output.out(targetLine(target));
    for (const line of statsLines(report)) output.out(line);
    return CLI_EXIT.ok;
  },
};

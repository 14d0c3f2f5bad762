import { redactConnectionString } from '../../config/connection-string.js';
import { migrateQueue } from '../../database/migrate-queue.js';
import { describeError } from '../../errors/describe-error.js';
import { CLI_APPLICATION_NAME, targetTable, type CliCommand } from '../cli-command.js';

/** `migrate`: what a deploy step runs once per release, before the application's pods. */
export const migrateCommand: CliCommand = {
  name: 'migrate',
  summary: 'Create the schema if missing and apply pending migrations, as the module does at boot',
  options: [
    {
      name: 'grant-to',
      type: 'string',
      valueName: '<role>',
      summary:
        "then grant this role the application's privileges on the queue's tables, and no more",
    },
  ],
  async run(target, output, input) {
    const grantTo = input.options['grant-to'];
    output.out(
      `Migrating ${targetTable(target)} on ${redactConnectionString(target.connectionString)}`,
    );
    const result = await migrateQueue({
      ...target,
      applicationName: CLI_APPLICATION_NAME,
      ...(typeof grantTo === 'string' ? { grantTo } : {}),
      onRetry: (error, delayMs) =>
        output.err(
          `Waiting for a table lock another transaction holds (${describeError(error)}); trying again in ${delayMs} ms`,
        ),
    });
    for (const name of result.applied) output.out(`Applied ${name}`);
    const table = `${result.schema}.${result.table}`;
    output.out(
      result.applied.length === 0
        ? `${table} is up to date`
        : `${table}: ${result.applied.length} migration${result.applied.length === 1 ? '' : 's'} applied`,
    );
    if (result.grantedTo !== undefined) {
      output.out(`Granted ${result.grantedTo} the application's privileges on ${table}`);
    }
  },
};

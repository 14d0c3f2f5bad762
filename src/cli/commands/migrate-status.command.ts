import { redactConnectionString } from '../../config/connection-string.js';
import { queueMigrationStatus } from '../../database/migrate-queue.js';
import { CLI_APPLICATION_NAME, targetTable, type CliCommand } from '../cli-command.js';

/** `migrate:status`: what is applied and what a `migrate` would apply; changes nothing. */
export const migrateStatusCommand: CliCommand = {
  name: 'migrate:status',
  summary: 'List applied and pending migrations; changes nothing',
  async run(target, output) {
    output.out(`${targetTable(target)} on ${redactConnectionString(target.connectionString)}`);
    const status = await queueMigrationStatus({ ...target, applicationName: CLI_APPLICATION_NAME });
    for (const name of status.applied) {
      output.out(
        status.unknown.includes(name)
          ? `  applied  ${name} (unknown to this version: a newer release applied it)`
          : `  applied  ${name}`,
      );
    }
    for (const name of status.pending) output.out(`  pending  ${name}`);
    output.out(`${status.applied.length} applied, ${status.pending.length} pending`);
  },
};

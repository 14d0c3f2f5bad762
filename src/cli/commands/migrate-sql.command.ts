import { previewQueueMigrations } from '../../database/migrate-queue.js';
import { CLI_APPLICATION_NAME, CLI_EXIT, printJson, type CliCommand } from '../cli-command.js';
import { migrationSqlLines } from '../operator-format.js';
import { targetLine } from '../operator-output.js';

/**
 * `migrate:sql`: the statements `migrate` would send, recorded while the pending migrations run
 * in a transaction that is rolled back. Safer than reading the migrations' source: what a
 * migration sends depends on what it finds (a column there already, an index left invalid).
 */
export const migrateSqlCommand: CliCommand = {
  name: 'migrate:sql',
  summary:
    'Print the SQL pending migrations would run: they run in a transaction that is rolled back',
  async run(target, output, input) {
    const preview = await previewQueueMigrations({
      ...target,
      applicationName: CLI_APPLICATION_NAME,
    });
    if (input.json) {
      printJson(output, {
        ...preview,
        pending: preview.migrations.map((migration) => migration.name),
      });
      return CLI_EXIT.ok;
    }
    output.out(`-- ${targetLine(target)}`);
    for (const line of migrationSqlLines(preview)) output.out(line);
    return CLI_EXIT.ok;
  },
};

import { type CliCommand } from '../cli-command.js';
import { doctorCommand } from './doctor.command.js';
import { importSqliteCommand } from './import-sqlite.command.js';
import { migrateStatusCommand } from './migrate-status.command.js';
import { migrateCommand } from './migrate.command.js';

/** Every command, in the order the help text lists them. */
export const CLI_COMMANDS: readonly CliCommand[] = [
  migrateCommand,
  migrateStatusCommand,
  importSqliteCommand,
  doctorCommand,
];

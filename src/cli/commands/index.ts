import { type CliCommand } from '../cli-command.js';
import { cancelCommand } from './cancel.command.js';
import { clearCommand } from './clear.command.js';
import { deleteCommand } from './delete.command.js';
import { doctorCommand } from './doctor.command.js';
import { importSqliteCommand } from './import-sqlite.command.js';
import { listCommand } from './list.command.js';
import { migrateSqlCommand } from './migrate-sql.command.js';
import { migrateStatusCommand } from './migrate-status.command.js';
import { migrateCommand } from './migrate.command.js';
import { pauseCommand } from './pause.command.js';
import { resumeCommand } from './resume.command.js';
import { retryCommand } from './retry.command.js';
import { schedulesCommand } from './schedules.command.js';
import { showCommand } from './show.command.js';
import { statsCommand } from './stats.command.js';

/** Every command, in the order the help text lists them. */
export const CLI_COMMANDS: readonly CliCommand[] = [
  migrateCommand,
  migrateStatusCommand,
  migrateSqlCommand,
  importSqliteCommand,
  statsCommand,
  listCommand,
  showCommand,
  retryCommand,
  deleteCommand,
  clearCommand,
  pauseCommand,
  resumeCommand,
  cancelCommand,
  schedulesCommand,
  doctorCommand,
];

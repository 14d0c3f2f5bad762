import { type QueueTableNames } from '../sql/table-names.js';
import { createQueueTable } from './1795556400000-create-queue-table.js';
import { addDeadLetters } from './1795560000000-add-dead-letters.js';
import { addMaintenance } from './1795563600000-add-maintenance.js';
import { timeOrderedIds } from './1795567200000-time-ordered-ids.js';
import { addFlowControl } from './1795570800000-add-flow-control.js';
import { addWorkflows } from './1795574400000-add-workflows.js';
import { addSchedules } from './1795578000000-add-schedules.js';
import { addTraceContext } from './1795581600000-add-trace-context.js';
import { partitionArchive } from './1795585200000-partition-archive.js';
import { addDashboardTables } from './1795588800000-add-dashboard-tables.js';
import { narrowStateIndex } from './1795592400000-narrow-state-index.js';
import { type QueueMigrationClass } from './queue-migration-class.js';

export { type QueueMigrationClass } from './queue-migration-class.js';

/**
 * The queue table's migrations, oldest first, bound to one schema and table. The module at boot
 * (`migrationsRun`) and `migrateQueue` (the package's CLI) apply them through the migration
 * runner; an application may also list them in a TypeORM data source of its own, which records
 * them in the same `<table>_migrations` table.
 */
export function queueMigrations(names: QueueTableNames): QueueMigrationClass[] {
  return [
    createQueueTable(names),
    addDeadLetters(names),
    addMaintenance(names),
    timeOrderedIds(names),
    addFlowControl(names),
    addWorkflows(names),
    addSchedules(names),
    addTraceContext(names),
    partitionArchive(names),
    addDashboardTables(names),
    narrowStateIndex(names),
  ];
}

/** The names of the queue table's migrations, oldest first: what a fresh table records. */
export function queueMigrationNames(names: QueueTableNames): string[] {
  return queueMigrations(names).map((Migration) => new Migration().name);
}

import { resolveMigrationConfig, withConnection } from '../database/migrate-queue.js';
import { type QueueMigrationOptions } from '../interfaces/queue-migration.interface.js';
import { DiagnosticsStore } from '../store/diagnostics-store.js';
import { type DoctorFacts } from './doctor-findings.js';

/** Where the doctor looks, and how long a lease may stay expired before it counts. */
export interface DoctorOptions extends Omit<QueueMigrationOptions, 'onRetry'> {
  readonly leaseGraceSeconds: number;
}

/**
 * Reads everything the doctor judges, on one connection opened for it and closed after it. The
 * options are the module's connection and table options, validated as `migrateQueue` validates
 * them. Nothing is changed: the scratch schema the shapes are compared in is rolled back.
 *
 * @throws {QueueOptionsError} an option is unusable; nothing was opened.
 * @throws {QueueDatabaseError} the connection or a statement failed (never with the password).
 */
export async function collectDoctorFacts(options: DoctorOptions): Promise<DoctorFacts> {
  const { leaseGraceSeconds, ...connection } = options;
  const { config } = resolveMigrationConfig(connection);
  const { names } = config;
  return withConnection(config, 'doctor', async (dataSource) => {
    const store = new DiagnosticsStore(dataSource, names);
    const migrations = await store.migrations();
    const shapes = await store.catalogShapes();
    const tableExists = shapes.actual.some(
      (object) =>
        object.kind === 'table' && object.name === names.table && object.definition === 'present',
    );
    return {
      schema: names.schema,
      table: names.table,
      migrations,
      shapes,
      invalidIndexes: await store.invalidIndexes(),
      vacuum: tableExists ? await store.tableVacuum() : null,
      horizon: await store.horizon(),
      expiredLeases: tableExists ? await store.expiredLeases(leaseGraceSeconds) : null,
    };
  });
}

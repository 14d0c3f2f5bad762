import { randomBytes } from 'node:crypto';
import { type DataSource, type QueryRunner } from 'typeorm';
import { readMigrationStatus } from '../database/migration-runner.js';
import { queueMigrations } from '../migrations/index.js';
import {
  catalogShapeSql,
  expiredLeasesSql,
  horizonHoldersSql,
  invalidIndexesSql,
  statsVisibilitySql,
  tableVacuumSql,
} from '../sql/diagnostics.sql.js';
import { type SqlStatement } from '../sql/sql-statement.js';
import { deriveTableNames, type QueueTableNames } from '../sql/table-names.js';
import {
  toCatalogObjects,
  toExpiredLeaseFacts,
  toHorizonFacts,
  toTableVacuumFacts,
  type CatalogObject,
  type CatalogRow,
  type ExpiredLeaseFacts,
  type ExpiredLeaseRow,
  type HorizonFacts,
  type HorizonRow,
  type InvalidIndex,
  type TableVacuumFacts,
  type TableVacuumRow,
  type VisibilityRow,
} from './diagnostics-rows.js';

/** SQLSTATE insufficient_privilege. */
const INSUFFICIENT_PRIVILEGE = '42501';

/** The catalog shape of the queue's tables, and of what the migrations create. */
export interface CatalogShapes {
  readonly actual: readonly CatalogObject[];
  /** Null when the migrations could not be run into a scratch schema (`expectedUnknown` says why). */
  readonly expected: readonly CatalogObject[] | null;
  readonly expectedUnknown?: string;
}

/**
 * The doctor's door to the database: every diagnostic statement is sent here, on a DataSource
 * of a one-off run (the CLI's). Reads only; the one transaction that creates something (the
 * scratch schema) is always rolled back.
 */
export class DiagnosticsStore {
  constructor(
    private readonly dataSource: DataSource,
    private readonly names: QueueTableNames,
  ) {}

  /**
   * The queue's tables as they are, and as the migrations of this release create them, read in
   * one transaction: the migrations are run into a scratch schema of that transaction, both
   * shapes read, and the transaction rolled back, so nothing is left behind and the comparison
   * never goes stale when a migration is added. Creating the scratch schema needs the CREATE
   * privilege on the database; without it the expected shape is unknown and `expectedUnknown`
   * says so.
   */
  async catalogShapes(): Promise<CatalogShapes> {
    const runner = this.dataSource.createQueryRunner('master');
    await runner.connect();
    try {
      await runner.startTransaction();
      try {
        return await this.shapesIn(runner);
      } finally {
        await runner.rollbackTransaction();
      }
    } finally {
      await runner.release();
    }
  }

  private async shapesIn(runner: QueryRunner): Promise<CatalogShapes> {
    const [setting] = (await runner.query("SELECT current_setting('search_path') AS path")) as {
      path: string;
    }[];
    const searchPath = setting?.path ?? '';
    // Catalog functions qualify a name only when it is not on the search path: with pg_catalog
    // alone, both schemas' definitions name their schema, which `withoutSchema` then removes.
    const catalogOnly = () => runner.query("SELECT set_config('search_path', 'pg_catalog', true)");
    await catalogOnly();
    const actual = await this.shapeOf(runner, this.names);

    const scratch = deriveTableNames(
      `fetchcraft_doctor_${randomBytes(6).toString('hex')}`,
      this.names.table,
    );
    try {
      await runner.query("SELECT set_config('search_path', $1::text, true)", [searchPath]);
      await runner.query(`CREATE SCHEMA ${scratch.quotedSchema}`);
    } catch (error) {
      if ((error as { code?: unknown }).code !== INSUFFICIENT_PRIVILEGE) throw error;
      return {
        actual,
        expected: null,
        expectedUnknown:
          'this role may not create a schema (CREATE on the database), so the migrations could not be run into a scratch schema to compare with',
      };
    }
    for (const Migration of queueMigrations(scratch)) await new Migration().up(runner);
    await catalogOnly();
    return { actual, expected: await this.shapeOf(runner, scratch) };
  }

  private async shapeOf(runner: QueryRunner, names: QueueTableNames): Promise<CatalogObject[]> {
    const rows = await send<CatalogRow>(runner, catalogShapeSql(names));
    return toCatalogObjects(rows, names);
  }

  /** The migrations recorded in `<table>_migrations`, and those of this release not among them. */
  async migrations(): Promise<{ applied: string[]; pending: string[]; unknown: string[] }> {
    return readMigrationStatus(this.dataSource, this.names);
  }

  async invalidIndexes(): Promise<InvalidIndex[]> {
    return send<InvalidIndex>(this.dataSource, invalidIndexesSql(this.names));
  }

  async tableVacuum(): Promise<TableVacuumFacts | null> {
    const [row] = await send<TableVacuumRow>(this.dataSource, tableVacuumSql(this.names));
    return toTableVacuumFacts(row);
  }

  async horizon(): Promise<HorizonFacts> {
    const rows = await send<HorizonRow>(this.dataSource, horizonHoldersSql());
    const [visibility] = await send<VisibilityRow>(this.dataSource, statsVisibilitySql());
    return toHorizonFacts(rows, visibility);
  }

  async expiredLeases(graceSeconds: number): Promise<ExpiredLeaseFacts> {
    const [row] = await send<ExpiredLeaseRow>(
      this.dataSource,
      expiredLeasesSql(this.names, graceSeconds),
    );
    return toExpiredLeaseFacts(row);
  }
}

async function send<Row>(
  via: Pick<QueryRunner, 'query'> | Pick<DataSource, 'query'>,
  statement: SqlStatement,
): Promise<Row[]> {
  return (await via.query(statement.text, statement.values as unknown[])) as Row[];
}

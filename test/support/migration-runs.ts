import { DataSource } from 'typeorm';
import { queueTableNames } from '../../src/config/identifier-rules.js';
import {
  runQueueMigrations,
  type MigrationRunOptions,
} from '../../src/database/migration-runner.js';

/** Runs `work` with a TypeORM DataSource of two connections to `url`, destroyed afterwards. */
export async function withDataSource<T>(
  url: string,
  work: (dataSource: DataSource) => Promise<T>,
): Promise<T> {
  const dataSource = new DataSource({ type: 'postgres', url, extra: { max: 2 } });
  await dataSource.initialize();
  try {
    return await work(dataSource);
  } finally {
    await dataSource.destroy();
  }
}

/**
 * The module's migration runner on `public.messages` of `url`, with a 2 s lock timeout unless
 * `options` says otherwise. @returns the names it applied.
 */
export function runMigrations(
  url: string,
  options: Partial<MigrationRunOptions> = {},
): Promise<string[]> {
  return withDataSource(url, (dataSource) =>
    runQueueMigrations(dataSource, queueTableNames('public', 'messages'), {
      lockTimeoutMs: 2_000,
      ...options,
    }),
  );
}

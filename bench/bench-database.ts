import pg from 'pg';

/** A database of its own on the benchmark's server, for one contender run or the baseline. */
export interface BenchDatabase {
  readonly name: string;
  readonly url: string;
  /** Drops it, whatever still holds connections to it. */
  drop(): Promise<void>;
}

export async function createBenchDatabase(adminUrl: string, name: string): Promise<BenchDatabase> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${name}"`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    name,
    url: url.toString(),
    async drop() {
      try {
        await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await admin.end();
      }
    },
  };
}

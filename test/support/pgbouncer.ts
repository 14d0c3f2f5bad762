import { execFileSync, spawn, spawnSync } from 'node:child_process';
import {
  accessSync,
  chmodSync,
  chownSync,
  constants,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import pg from 'pg';
import { freePort } from '../../dev/embedded-postgres.js';

/** A PgBouncer of the test's own, in front of the test Postgres. */
export interface RunningPgBouncer {
  readonly port: number;
  /** `url` with its host and port replaced by PgBouncer's: the same user, password and database. */
  urlFor(url: string): string;
  /** Runs one statement on PgBouncer's admin console (`SHOW POOLS`, `SHOW STATS`…). */
  admin<Row extends object>(text: string): Promise<Row[]>;
  /** What PgBouncer wrote to its log so far (startup errors, refused logins). */
  log(): string;
  stop(): Promise<void>;
}

export interface PgBouncerOptions {
  /** Server connections per (database, user) pair. Default 4. */
  readonly defaultPoolSize?: number;
  /** Client connections PgBouncer accepts. Default 100. */
  readonly maxClientConn?: number;
}

/** Where Debian's package puts the binary; PATH is searched too. */
const DEBIAN_BINARY = '/usr/sbin/pgbouncer';
const START_TIMEOUT_MS = 15_000;
const STOP_TIMEOUT_MS = 5_000;

let installed: string | undefined;

/**
 * The pgbouncer binary: on PATH or where Debian puts it. Missing, it is installed from the
 * distribution's package when this process runs as root (as CI does), once per process;
 * otherwise the test fails saying how to install it.
 */
export function pgbouncerBinary(): string {
  installed ??= findBinary() ?? install();
  return installed;
}

function findBinary(): string | undefined {
  const dirs = (process.env.PATH ?? '').split(delimiter).filter((dir) => dir !== '');
  for (const candidate of [...dirs.map((dir) => join(dir, 'pgbouncer')), DEBIAN_BINARY]) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

function install(): string {
  if (process.getuid?.() !== 0) {
    throw new Error(
      'pgbouncer is not installed and this process is not root, so it cannot install it: run `apt-get install -y pgbouncer` (Debian/Ubuntu) as root, or put a pgbouncer binary on PATH',
    );
  }
  process.stdout.write('[pgbouncer] not installed: apt-get update && apt-get install pgbouncer\n');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const args of [
    ['update', '-qq'],
    ['install', '-y', '-qq', 'pgbouncer'],
  ]) {
    const result = spawnSync('apt-get', args, { env, encoding: 'utf8' });
    if (result.status !== 0) {
      throw new Error(
        `apt-get ${args.join(' ')} failed (${result.error?.message ?? `exit ${result.status}`}): ${result.stderr}`,
      );
    }
  }
  const binary = findBinary();
  if (binary === undefined) throw new Error('apt-get installed pgbouncer, yet no binary was found');
  return binary;
}

/**
 * Starts a PgBouncer in transaction mode in front of the Postgres at `serverUrl` (any database
 * of it, by the name the client asks for), on a free loopback port, from a generated ini in a
 * temporary directory. It authenticates clients with SCRAM against the URL's own user and
 * password, and logs in to Postgres with them. PgBouncer refuses to run as root: as root it runs
 * as the `postgres` user.
 */
export async function startPgBouncer(
  serverUrl: string,
  options: PgBouncerOptions = {},
): Promise<RunningPgBouncer> {
  const binary = pgbouncerBinary();
  const server = new URL(serverUrl);
  const user = decodeURIComponent(server.username);
  const password = decodeURIComponent(server.password);
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'fetchcraft-queue-pgbouncer-'));
  const asRoot = process.getuid?.() === 0;
  const owner = asRoot ? postgresOwner() : undefined;
  const write = (name: string, text: string): string => {
    const path = join(dir, name);
    writeFileSync(path, text, { mode: 0o600 });
    if (owner !== undefined) chownSync(path, owner.uid, owner.gid);
    return path;
  };
  if (owner !== undefined) {
    chmodSync(dir, 0o700);
    chownSync(dir, owner.uid, owner.gid);
  }
  const quoted = (text: string) => `"${text.replace(/"/g, '""')}"`;
  const authFile = write('userlist.txt', `${quoted(user)} ${quoted(password)}\n`);
  const ini = write(
    'pgbouncer.ini',
    [
      '[databases]',
      `* = host=${server.hostname} port=${server.port || '5432'}`,
      '',
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      'unix_socket_dir =',
      `pidfile = ${join(dir, 'pgbouncer.pid')}`,
      'pool_mode = transaction',
      'auth_type = scram-sha-256',
      `auth_file = ${authFile}`,
      `admin_users = ${user}`,
      `max_client_conn = ${options.maxClientConn ?? 100}`,
      `default_pool_size = ${options.defaultPoolSize ?? 4}`,
      'server_reset_query =',
      'server_check_delay = 0',
      '',
    ].join('\n'),
  );

  const command = asRoot ? 'runuser' : binary;
  const args = asRoot ? ['-u', 'postgres', '--', binary, ini] : [ini];
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let running = true;
  void exited.then(() => (running = false));

  const url = (database: string): string => {
    const pooled = new URL(serverUrl);
    pooled.hostname = '127.0.0.1';
    pooled.port = String(port);
    pooled.pathname = `/${database}`;
    return pooled.toString();
  };
  const admin = async <Row extends object>(text: string): Promise<Row[]> => {
    const client = new pg.Client({ connectionString: url('pgbouncer') });
    client.on('error', () => undefined);
    await client.connect();
    try {
      // The admin console speaks the simple query protocol only.
      return (await client.query<Row>(text)).rows;
    } finally {
      await client.end().catch(() => undefined);
    }
  };
  const stop = async (): Promise<void> => {
    if (running) {
      // SIGTERM: PgBouncer closes every connection and exits at once. Sent to PgBouncer itself:
      // runuser would pass it on, then sleep two seconds before it exits in turn.
      const pid = readPid(join(dir, 'pgbouncer.pid'));
      if (pid === undefined) child.kill('SIGTERM');
      else process.kill(pid, 'SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        exited,
        new Promise((resolve) => (timer = setTimeout(resolve, STOP_TIMEOUT_MS))),
      ]);
      clearTimeout(timer);
      if (running) child.kill('SIGKILL');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (!running) {
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`pgbouncer exited while starting:\n${output}`);
    }
    const answered = await admin('SHOW VERSION').then(
      () => true,
      () => false,
    );
    if (answered) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(
        `pgbouncer did not accept connections within ${START_TIMEOUT_MS} ms:\n${output}`,
      );
    }
    await delay(50);
  }
  return {
    port,
    urlFor: (target) => url(new URL(target).pathname.slice(1)),
    admin,
    log: () => output,
    stop,
  };
}

function readPid(path: string): number | undefined {
  try {
    const pid = Number(readFileSync(path, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function postgresOwner(): { uid: number; gid: number } {
  const id = (flag: string) =>
    Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  return { uid: id('-u'), gid: id('-g') };
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

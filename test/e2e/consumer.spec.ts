import { execFile, spawn, type ChildProcess } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { packageBuild } from '../support/package-build.js';
import { installLine, readmeBlocks } from '../support/readme-files.js';
import { useQueueFixture } from '../support/queue-fixture.js';

/**
 * A new user's first hour, in CI: a fresh project that has only the packed tarball and the README.
 * It installs what the README's install line says, writes every file the README shows, compiles
 * them with skipLibCheck: false, migrates with the README's command, and runs the app over HTTP.
 * A CommonJS app loads the same tarball with require().
 */

const exec = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url));
const readme = readFileSync(join(root, 'README.md'), 'utf8');
const { db } = useQueueFixture('consumer', { reset: 'none' });

let work = '';
let project = '';

function versionOf(dependency: string): string {
  const manifest = JSON.parse(
    readFileSync(join(root, 'node_modules', dependency, 'package.json'), 'utf8'),
  ) as { version: string };
  return manifest.version;
}

async function run(
  command: string,
  args: string[],
  cwd: string,
  env: Record<string, string> = {},
): Promise<string> {
  try {
    const { stdout } = await exec(command, args, {
      cwd,
      env: { ...process.env, ...env },
      maxBuffer: 64 * 1024 * 1024,
    });
    return stdout;
  } catch (error) {
    const failed = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(
      `${command} ${args.join(' ')} failed: ${failed.message}\n${failed.stdout ?? ''}\n${failed.stderr ?? ''}`,
      { cause: error },
    );
  }
}

function writeProjectFile(path: string, content: string): void {
  const target = join(project, path);
  mkdirSync(dirname(target), { recursive: true });
  writeFileSync(target, content);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'fetchcraft-consumer-'));
  // What a publish would pack (the manifest, the README, a clean build), staged apart: prepack
  // would rebuild the repository's dist/ under the feet of the demo test running beside this one.
  const staging = join(work, 'package');
  mkdirSync(staging);
  for (const file of ['package.json', 'README.md']) {
    writeFileSync(join(staging, file), readFileSync(join(root, file)));
  }
  // The build `npm run build` makes, shared with the demo's spec (test/support/package-build.ts).
  cpSync(await packageBuild(), join(staging, 'dist'), { recursive: true });
  const packed = await run(
    'npm',
    ['pack', '--ignore-scripts', '--pack-destination', work, '--silent'],
    staging,
  );
  const tarball = join(work, packed.trim().split('\n').pop() ?? '');
  project = join(work, 'app');
  mkdirSync(project);
  writeProjectFile(
    'package.json',
    JSON.stringify({ name: 'consumer-app', private: true, type: 'module' }, null, 2),
  );
  const packages = installLine(readme).map((name) =>
    name === '@fetchcraft/queue' ? tarball : name,
  );
  const quiet = ['--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'];
  // No automatic peer installs: the README's line alone must bring every package the app needs.
  await run('npm', ['install', ...quiet, '--legacy-peer-deps', ...packages], project);
  // The metrics section's example needs prom-client, the optional peer that section says to
  // install; nothing else of the README does.
  await run('npm', ['install', ...quiet, `prom-client@${versionOf('prom-client')}`], project);
  await run(
    'npm',
    [
      'install',
      ...quiet,
      '--save-dev',
      `typescript@${versionOf('typescript')}`,
      `@types/node@${versionOf('@types/node')}`,
    ],
    project,
  );
  for (const block of readmeBlocks(readme)) {
    if (block.file !== undefined) writeProjectFile(block.file, block.content);
  }
}, 600_000);

afterAll(() => {
  if (work !== '') rmSync(work, { recursive: true, force: true });
});

describe('a fresh app built from the README and the packed package', () => {
  it('every TypeScript or JSON block of the README is a file of the app, so CI compiles it', () => {
    const blocks = readmeBlocks(readme).filter((block) => ['ts', 'json'].includes(block.language));
    expect(blocks.length).toBeGreaterThan(5);
    expect(blocks.filter((block) => block.file === undefined).map((b) => b.content)).toEqual([]);
  });

  it('compiles with skipLibCheck: false, without @types/pg', async () => {
    expect(existsSync(join(project, 'node_modules/@types/pg'))).toBe(false);
    await run('npx', ['tsc', '-p', '.', '--skipLibCheck', 'false'], project);
    expect(existsSync(join(project, 'dist/main.js'))).toBe(true);
  }, 120_000);

  it("migrates with the README's command, and again finds nothing to do", async () => {
    const command = readmeBlocks(readme)
      .filter((block) => block.language === 'bash')
      .flatMap((block) => block.content.split('\n'))
      .find((line) => line.trim().startsWith('npx fetchcraft-queue migrate'));
    expect(command).toBeDefined();
    const [npx, ...args] = command!.trim().split(/\s+/);
    const first = await run(npx!, args, project, { DATABASE_URL: db.url });
    expect(first).toMatch(/applied|Migrated/i);
    const { rows } = await db.query("SELECT to_regclass('public.messages') AS t");
    expect(rows[0]).toEqual({ t: 'messages' });
    const second = await run(npx!, args, project, { DATABASE_URL: db.url });
    expect(second).toMatch(/up to date/i);
  }, 120_000);

  it('runs: enqueues over HTTP, processes, answers 400 with field and rule, ready, drains on SIGTERM', async () => {
    const port = await freePort();
    const child: ChildProcess = spawn('node', ['dist/main.js'], {
      cwd: project,
      env: { ...process.env, DATABASE_URL: db.url, PORT: String(port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<string>((resolve) =>
      child.on('exit', (code, signal) => resolve(signal ?? String(code))),
    );
    const base = `http://127.0.0.1:${port}`;
    try {
      await waitUntil(
        async () => (await fetch(`${base}/health/ready`)).status === 200,
        () => output,
      );

      const accepted = await post(`${base}/documents`, {
        url: 'https://example.com/report.pdf',
        title: 'Annual report',
      });
      expect(accepted.status).toBe(201);
      const { id } = (await accepted.json()) as { id: string };
      expect(id).toMatch(/^[0-9a-f-]{36}$/);
      await waitUntil(
        () => Promise.resolve(output.includes('Annual report')),
        () => output,
      );

      const refused = await post(`${base}/documents`, {
        url: 'https://example.com/x.pdf',
        title: 'bad \u0000 title',
      });
      expect(refused.status).toBe(400);
      expect(await refused.json()).toMatchObject({ statusCode: 400, field: 'body.title' });

      // Dead-lettered at once (UnrecoverableError), logged once by the worker, handled by the
      // dead-letter processor, and listed by the producer.
      const plain = await post(`${base}/documents`, {
        url: 'http://example.com/plain.pdf',
        title: 'Plain',
      });
      const { id: plainId } = (await plain.json()) as { id: string };
      await waitUntil(
        () => Promise.resolve(output.includes(`gave up on`)),
        () => output,
      );
      expect(output).toMatch(/attempt 1 of 5 failed \(UnrecoverableError: only https documents\)/);
      expect(output).toContain('dead-lettered to "ingest.error"');
      const failed = (await (await fetch(`${base}/documents/failed`)).json()) as Array<{
        id: string;
        error?: string;
      }>;
      expect(failed.map((entry) => entry.error)).toEqual(['only https documents']);
      expect(failed[0]!.id).not.toBe(id);
      expect(plainId).toMatch(/^[0-9a-f-]{36}$/);
      const stats = (await (await fetch(`${base}/documents/stats`)).json()) as {
        ready: { due: number; delayed: number };
        byQueue: Record<string, unknown>;
      };
      expect(stats.ready).toEqual({ due: 0, delayed: 0 });
      expect(Object.keys(stats.byQueue)).toEqual(['ingest.main']);

      const { rows } = await db.query<{ state: string }>(
        'SELECT state FROM messages WHERE id = $1',
        [id],
      );
      expect(rows).toEqual([{ state: 'done' }]);
    } finally {
      child.kill('SIGTERM');
    }
    // Nest's shutdown hooks close the app, then raise the signal again: a clean drain ends by it.
    expect(await exited).toBe('SIGTERM');
    expect(output).not.toMatch(/ERROR|Unhandled|not recorded/);
  }, 120_000);

  it('a wrong password stops the boot: one error naming the code once, no password, and the process exits', async () => {
    const url = new URL(db.url);
    url.password = 'not-the-password-9f2c';
    const child = spawn('node', ['dist/main.js'], {
      cwd: project,
      env: { ...process.env, DATABASE_URL: url.toString(), PORT: String(await freePort()) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const code = await new Promise<number | null>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`the app did not exit within 30 s:\n${output}`));
      }, 30_000);
      child.on('exit', (exitCode) => {
        clearTimeout(timer);
        resolve(exitCode);
      });
    });
    expect(code).not.toBe(0);
    expect(output).toMatch(/could not connect to postgres:\/\/[^:]+:\*\*\*@/);
    expect(output.match(/\(code 28P01\)/g)?.length ?? 0).toBeGreaterThanOrEqual(1);
    expect(output).not.toMatch(/\(code 28P01\) \(code 28P01\)/);
    expect(output).not.toContain('not-the-password-9f2c');
  }, 60_000);

  it('loads in a CommonJS app: require() and a TypeScript app compiled to CommonJS', async () => {
    const cjs = join(project, 'cjs');
    writeProjectFile('cjs/package.json', JSON.stringify({ type: 'commonjs' }));
    writeProjectFile(
      'cjs/tsconfig.json',
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'node20',
          strict: true,
          experimentalDecorators: true,
          emitDecoratorMetadata: true,
          types: ['node'],
          outDir: 'dist',
        },
        include: ['main.ts'],
      }),
    );
    writeProjectFile('cjs/main.ts', readFileSync(join(root, 'test/consumer/cjs-main.ts'), 'utf8'));
    const names = await run(
      'node',
      ['-e', "console.log(Object.keys(require('@fetchcraft/queue')).length)"],
      cjs,
    );
    expect(Number(names)).toBeGreaterThan(20);
    await run('npx', ['tsc', '-p', '.', '--skipLibCheck', 'false'], cjs);
    expect(readFileSync(join(cjs, 'dist/main.js'), 'utf8')).toContain(
      'require("@fetchcraft/queue")',
    );
    const printed = await run('node', ['dist/main.js'], cjs, { DATABASE_URL: db.url });
    expect(JSON.parse(printed.trim().split('\n').pop()!)).toMatchObject({
      refused: 'queue',
      total: expect.any(Number),
    });
  }, 120_000);
});

function post(url: string, body: unknown): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

async function waitUntil(
  check: () => Promise<boolean>,
  context: () => string,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`timed out; the app printed:\n${context()}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

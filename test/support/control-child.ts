import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { afterEach } from '@jest/globals';
import { type ProcessorInfo } from '../../src/index.js';
import { waitFor } from './boot.js';
import { tsChildArgs } from './ts-child.js';

/** A running `control-worker.ts` process and what it printed. */
export interface ControlChild {
  readonly child: ChildProcess;
  readonly lines: string[];
  /** Its processor's `ProcessorRegistry` entry, asked for on stdin. */
  info(): Promise<ProcessorInfo>;
  /** Resolves once it printed `line`. */
  printed(line: string, timeoutMs?: number): Promise<void>;
  /** SIGKILL, and wait for the exit. */
  kill(): Promise<void>;
  /** SIGTERM (a graceful shutdown), and wait for the exit. */
  stop(): Promise<void>;
}

/** Starts `test/support/control-worker.ts` with `env` and resolves once it is ready. */
export async function startControlChild(
  databaseUrl: string,
  env: Record<string, string> = {},
): Promise<ControlChild> {
  const child = spawn('node', tsChildArgs('test/support/control-worker.ts'), {
    env: { ...process.env, DATABASE_URL: databaseUrl, ...env },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines: string[] = [];
  createInterface({ input: child.stdout }).on('line', (line) => lines.push(line));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await waitFor(() => lines.includes('ready'), 30_000, 'the worker process');
  const printed = (line: string, timeoutMs = 10_000) =>
    waitFor(() => lines.includes(line), timeoutMs, `the worker process to print "${line}"`);
  return {
    child,
    lines,
    printed,
    async info() {
      const before = lines.length;
      child.stdin.write('info\n');
      let found: string | undefined;
      await waitFor(
        () => (found = lines.slice(before).find((line) => line.startsWith('info '))) !== undefined,
        5_000,
        'the worker process to answer info',
      );
      return JSON.parse(found!.slice('info '.length)) as ProcessorInfo;
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/**
 * For a test file: `start(env)` starts a control child on the database `url()` names, and every
 * child started by a test is killed after it.
 */
export function useControlChildren(
  url: () => string,
): (env: Record<string, string>) => Promise<ControlChild> {
  const children: ControlChild[] = [];
  afterEach(async () => {
    for (const child of children.splice(0)) await child.kill();
  });
  return async (env) => {
    const child = await startControlChild(url(), env);
    children.push(child);
    return child;
  };
}

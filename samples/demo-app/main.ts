/**
 * The demo application: `npm start` (or, once built, `node dist-demo/samples/demo-app/main.js`).
 *
 * Uses DATABASE_URL when set; otherwise starts an embedded PostgreSQL with its data under
 * ./.data/postgres, so a restart keeps the messages. `--demo N` enqueues N documents and shows
 * progress until they are processed. PORT (default 3000) and HOST (default 0.0.0.0) set where
 * it listens; DEMO_WORK_MS adds simulated work to each document; QUEUE_MIGRATIONS_RUN=false leaves
 * the migrations to a separate step (migrate.ts, the Kubernetes Job). The dashboard is at
 * /dashboard, for browsers on this machine (DEMO_DASHBOARD=public: for every client).
 *
 * On SIGTERM or SIGINT it drains first (running handlers finish and are acked, prefetched
 * messages go back), then stops the embedded database: the database's own signal handlers are
 * left out, or they would stop it under the draining workers.
 */
import 'reflect-metadata';
import { resolve } from 'node:path';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { type NestExpressApplication } from '@nestjs/platform-express';
import { QueueService, redactConnectionString } from '@fetchcraft/queue';
import { startEmbeddedServer } from '../../dev/embedded-postgres.js';
import { configureDemoApp } from './configure-demo-app.js';
import { runDemoLoad } from './demo-run.js';
import { DemoModule } from './demo.module.js';

const logger = new Logger('Demo');

function demoCount(argv: readonly string[]): number | undefined {
  const index = argv.indexOf('--demo');
  if (index === -1) return undefined;
  const count = Number(argv[index + 1] ?? 10_000);
  if (!Number.isInteger(count) || count < 1) {
    throw new Error('--demo takes a positive whole number of documents, e.g. --demo 10000');
  }
  return count;
}

async function main(): Promise<void> {
  const count = demoCount(process.argv.slice(2));
  let database: { url: string; description: string; stop: () => Promise<void> };
  if (process.env.DATABASE_URL) {
    database = {
      url: process.env.DATABASE_URL,
      description: redactConnectionString(process.env.DATABASE_URL),
      stop: async () => {},
    };
  } else {
    const dataDir = resolve(process.env.DEMO_DATA_DIR ?? '.data/postgres');
    const server = await startEmbeddedServer({ dataDir, persistent: true, stopOnSignals: false });
    database = {
      url: server.url,
      description: `embedded PostgreSQL ${server.version} on port ${server.port}, data in ${dataDir}${server.created ? ' (new)' : ' (kept from the last run)'}`,
      stop: () => server.stop(),
    };
  }

  const workMs = Number(process.env.DEMO_WORK_MS ?? 0);
  // Only JSON is parsed, by configureDemoApp: no urlencoded parser for a cross-site form to use.
  const app = await NestFactory.create<NestExpressApplication>(
    DemoModule.register(database.url, workMs, process.env.QUEUE_MIGRATIONS_RUN !== 'false'),
    { bodyParser: false },
  );
  configureDemoApp(app);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) {
      logger.warn(`${signal}: already draining`);
      return;
    }
    stopping = true;
    logger.log(`${signal}: draining workers, then stopping`);
    let code = 0;
    try {
      await app.close();
    } catch (error) {
      logger.error(`Shutdown failed: ${error instanceof Error ? error.message : String(error)}`);
      code = 1;
    }
    await database.stop();
    process.exit(code);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));

  const port = Number(process.env.PORT ?? 3000);
  logger.log(`Database: ${database.description}`);
  logger.log(
    'Endpoints: POST /documents, POST /documents/batch, GET /queues/stats, GET /health, /health/live, /health/ready',
  );
  await app.listen(port, process.env.HOST ?? '0.0.0.0');
  logger.log(`Listening on http://localhost:${port}`);
  logger.log(`Dashboard: http://localhost:${port}/dashboard (from this machine)`);
  if (count !== undefined) await runDemoLoad(app.get(QueueService), count);
}

main().catch((error: unknown) => {
  logger.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
});

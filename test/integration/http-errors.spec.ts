import { afterEach, describe, expect, it } from '@jest/globals';
import {
  Body,
  Controller,
  Get,
  Inject,
  NotFoundException,
  Param,
  Post,
  type INestApplication,
  type Provider,
} from '@nestjs/common';
import { APP_FILTER, HttpAdapterHost } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import {
  QueueError,
  QueueExceptionFilter,
  QueueModule,
  QueueService,
  type QueueModuleOptions,
} from '../../src/index.js';
import { RecordingLogger } from '../support/boot.js';
import { useQueueFixture } from '../support/queue-fixture.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';

@Controller()
class JobsController {
  constructor(@Inject(QueueService) private readonly queue: QueueService) {}

  @Post('jobs/:queue')
  async enqueue(@Param('queue') queue: string, @Body() body: unknown): Promise<{ id: string }> {
    return { id: await this.queue.enqueue(queue, body) };
  }

  @Get('plain-error')
  plainError(): never {
    throw new Error('an application bug');
  }

  @Get('not-found')
  notFound(): never {
    throw new NotFoundException('no such job');
  }

  @Get('other-queue-error')
  otherQueueError(): never {
    throw new QueueError('a queue error with no HTTP meaning');
  }
}

type FilterSetup = 'APP_FILTER' | 'useGlobalFilters' | 'none';

interface HttpApp {
  readonly url: string;
  readonly logger: RecordingLogger;
  close(): Promise<void>;
}

const { db } = useQueueFixture('http_errors', { reset: 'none' });

const opened: HttpApp[] = [];
let proxy: TcpProxy | undefined;
afterEach(async () => {
  for (const app of opened.splice(0)) await app.close();
  await proxy?.close();
  proxy = undefined;
});

/** A real HTTP app on express: the queue, one controller, and the filter set up as `setup` says. */
async function startApp(options: QueueModuleOptions, setup: FilterSetup): Promise<HttpApp> {
  const providers: Provider[] =
    setup === 'APP_FILTER' ? [{ provide: APP_FILTER, useClass: QueueExceptionFilter }] : [];
  const moduleRef = await Test.createTestingModule({
    imports: [
      QueueModule.forRoot({
        workers: false,
        reaper: false,
        cleanup: false,
        poolMinSize: 1,
        poolMaxSize: 4,
        ...options,
      }),
    ],
    controllers: [JobsController],
    providers,
  }).compile();
  const logger = new RecordingLogger();
  const app: INestApplication = moduleRef.createNestApplication({ logger });
  if (setup === 'useGlobalFilters') {
    app.useGlobalFilters(new QueueExceptionFilter(app.get(HttpAdapterHost).httpAdapter));
  }
  await app.listen(0, '127.0.0.1');
  const started = { url: await app.getUrl(), logger, close: () => app.close() };
  opened.push(started);
  return started;
}

interface Answer {
  readonly status: number;
  readonly retryAfter: string | null;
  readonly body: unknown;
}

async function request(url: string, body?: string): Promise<Answer> {
  const response = await fetch(
    url,
    body === undefined
      ? {}
      : { method: 'POST', headers: { 'content-type': 'application/json' }, body },
  );
  return {
    status: response.status,
    retryAfter: response.headers.get('retry-after'),
    body: await response.json(),
  };
}

describe('QueueExceptionFilter in an HTTP app', () => {
  it.each<FilterSetup>(['APP_FILTER', 'useGlobalFilters'])(
    'answers a refused argument with 400, field and rule (%s)',
    async (setup) => {
      const app = await startApp({ connectionString: db.url, schema: 'refused' }, setup);
      // JSON's \u0000 is a NUL in the parsed string, which JSONB cannot store.
      const answer = await request(`${app.url}/jobs/http.errors`, '{"content": "a\\u0000b"}');
      expect(answer).toEqual({
        status: 400,
        retryAfter: null,
        body: {
          statusCode: 400,
          error: 'Bad Request',
          message: [expect.stringMatching(/^Invalid body\.content: /)],
          field: 'body.content',
          rule: expect.stringMatching(/\\u0000/),
        },
      });
      // A good request still goes through.
      expect((await request(`${app.url}/jobs/http.errors`, '{"content": "ab"}')).status).toBe(201);
    },
  );

  it.each<FilterSetup>(['APP_FILTER', 'useGlobalFilters'])(
    'answers 503 with Retry-After when the database is unreachable, and logs one line (%s)',
    async (setup) => {
      // The table first, without the proxy, so the app behind it needs no migration.
      await (await startApp({ connectionString: db.url, schema: 'unreachable' }, 'none')).close();
      proxy = await startTcpProxy(db.url);
      const app = await startApp(
        { connectionString: proxy.url, schema: 'unreachable', migrationsRun: false },
        setup,
      );
      expect((await request(`${app.url}/jobs/http.errors`, '{"n": 1}')).status).toBe(201);

      // Every open connection cut, and nothing listens any more: ECONNREFUSED on the next connect.
      await proxy.close();
      proxy = undefined;
      const answer = await request(`${app.url}/jobs/http.errors?token=t0ps3cret`, '{"n": 2}');
      expect(answer).toEqual({
        status: 503,
        retryAfter: '5',
        body: {
          statusCode: 503,
          error: 'Service Unavailable',
          message: ['the queue is temporarily unavailable; retry later'],
        },
      });
      const lines = app.logger.lines.filter((line) => line.includes('503 for'));
      expect(lines).toEqual([
        expect.stringMatching(/^error 503 for POST \/jobs\/http\.errors: Queue enqueue failed: /),
      ]);
      const password = new URL(db.url).password;
      expect(password.length).toBeGreaterThan(0);
      expect(lines[0]).not.toContain(password);
      expect(lines[0]).not.toContain('t0ps3cret');
    },
  );

  it("answers 500 for another database failure, as Nest's own handler does", async () => {
    const app = await startApp({ connectionString: db.url, schema: 'dropped' }, 'APP_FILTER');
    await db.query('DROP TABLE dropped.messages CASCADE');
    const answer = await request(`${app.url}/jobs/http.errors`, '{"n": 1}');
    expect(answer).toEqual({
      status: 500,
      retryAfter: null,
      body: { statusCode: 500, message: 'Internal server error' },
    });
    // Logged by Nest's exceptions handler, with the SQLSTATE.
    expect(app.logger.lines.some((line) => /42P01/.test(line))).toBe(true);
  });

  it("leaves every other error's answer as Nest gives it without the filter", async () => {
    const without = await startApp({ connectionString: db.url, schema: 'others' }, 'none');
    const withFilter = await startApp({ connectionString: db.url, schema: 'others' }, 'APP_FILTER');
    for (const path of ['plain-error', 'not-found', 'other-queue-error']) {
      const expected = await request(`${without.url}/${path}`);
      expect(await request(`${withFilter.url}/${path}`)).toEqual(expected);
    }
    expect((await request(`${withFilter.url}/not-found`)).status).toBe(404);
    expect((await request(`${withFilter.url}/plain-error`)).status).toBe(500);
    expect((await request(`${withFilter.url}/other-queue-error`)).status).toBe(500);
  });
});

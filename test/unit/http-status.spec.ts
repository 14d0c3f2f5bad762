import { describe, expect, it, jest } from '@jest/globals';
import { Logger, type ArgumentsHost, type HttpServer } from '@nestjs/common';
import {
  QueueDatabaseError,
  QueueError,
  QueueExceptionFilter,
  QueueOptionsError,
  QueuePoolTimeoutError,
  QueueValidationError,
} from '../../src/index.js';
import { isTransientDatabaseError } from '../../src/database/transient-database-error.js';
import { toQueueDatabaseError } from '../../src/database/to-queue-database-error.js';
import { httpStatusOf } from '../../src/http/http-status-of.js';

/** What `pg` would throw: an Error with the server's or the socket's code. */
function driverError(message: string, code?: string): Error {
  return Object.assign(new Error(message), code === undefined ? {} : { code });
}

const fromDriver = (error: unknown) =>
  toQueueDatabaseError('enqueue', error, { connectionTimeoutMs: 1_000 });

describe('httpStatusOf', () => {
  it('answers 400 for a refused argument', () => {
    expect(httpStatusOf(new QueueValidationError('queue', 'must not be empty'))).toBe(400);
  });

  it('answers 503 for a pool timeout and a database that cannot serve now', () => {
    expect(httpStatusOf(new QueuePoolTimeoutError('enqueue', 1_000))).toBe(503);
    expect(httpStatusOf(fromDriver(driverError('connect ECONNREFUSED', 'ECONNREFUSED')))).toBe(503);
    expect(
      httpStatusOf(fromDriver(driverError('the database system is starting up', '57P03'))),
    ).toBe(503);
  });

  it('answers 500 for any other database failure', () => {
    expect(httpStatusOf(fromDriver(driverError('relation does not exist', '42P01')))).toBe(500);
    expect(httpStatusOf(new QueueDatabaseError('enqueue', 'no code at all'))).toBe(500);
  });

  it('leaves every other error to someone else', () => {
    expect(httpStatusOf(new QueueOptionsError('poolMaxSize', 'must be positive'))).toBeUndefined();
    expect(httpStatusOf(new QueueError('something else'))).toBeUndefined();
    expect(httpStatusOf(new Error('not ours'))).toBeUndefined();
    expect(httpStatusOf('a string')).toBeUndefined();
    expect(httpStatusOf(undefined)).toBeUndefined();
  });
});

describe('isTransientDatabaseError', () => {
  it.each([
    ['08006', 'connection_failure'],
    ['08001', 'sqlclient_unable_to_establish_sqlconnection'],
    ['57P01', 'admin_shutdown'],
    ['57P02', 'crash_shutdown'],
    ['57P03', 'cannot_connect_now'],
    ['53300', 'too_many_connections'],
    ['53200', 'out_of_memory'],
    ['40001', 'serialization_failure'],
    ['40P01', 'deadlock_detected'],
    ['55P03', 'lock_not_available'],
    ['57014', 'query_canceled'],
    ['25006', 'read_only_sql_transaction'],
    ['ECONNREFUSED', 'a server that does not listen'],
    ['ECONNRESET', 'a dropped connection'],
    ['ETIMEDOUT', 'a connect that got no answer'],
    ['EAI_AGAIN', 'a DNS lookup that failed for now'],
  ])('is transient for %s (%s)', (code) => {
    expect(isTransientDatabaseError(fromDriver(driverError('failed', code)))).toBe(true);
    expect(isTransientDatabaseError(driverError('failed', code))).toBe(true);
  });

  it.each([
    ['42P01', 'undefined_table'],
    ['23505', 'unique_violation'],
    ['22P02', 'invalid_text_representation'],
    ['28P01', 'invalid_password'],
    ['3D000', 'invalid_catalog_name'],
    ['57P04', 'database_dropped'],
    ['XX000', 'internal_error'],
    ['ENOTFOUND', 'a host name that does not exist'],
    ['0800', 'not a SQLSTATE'],
  ])('is not transient for %s (%s)', (code) => {
    expect(isTransientDatabaseError(fromDriver(driverError('failed', code)))).toBe(false);
  });

  it("knows the driver's code-less texts for a lost or silent connection", () => {
    for (const text of [
      'Connection terminated unexpectedly',
      'Query read timeout',
      'Client has encountered a connection error and is not queryable',
      'Cannot use a pool after calling end on the pool',
    ]) {
      expect(isTransientDatabaseError(fromDriver(driverError(text)))).toBe(true);
    }
    // The queue connection before it opened or after shutdown.
    expect(
      isTransientDatabaseError(
        new QueueDatabaseError('enqueue', 'the queue connection is not open'),
      ),
    ).toBe(true);
  });

  it('counts a pool timeout, and not a code-less failure it does not know', () => {
    expect(
      isTransientDatabaseError(fromDriver(driverError('timeout exceeded when trying to connect'))),
    ).toBe(true);
    expect(isTransientDatabaseError(fromDriver(driverError('something else')))).toBe(false);
    expect(isTransientDatabaseError(null)).toBe(false);
  });
});

/** A recording HTTP adapter: the filter may use only what every Nest platform implements. */
function fakeAdapter(headersSent = false) {
  const calls: unknown[][] = [];
  const adapter = {
    reply: (response: unknown, body: unknown, status?: number) =>
      calls.push(['reply', response, body, status]),
    setHeader: (response: unknown, name: string, value: string) =>
      calls.push(['setHeader', response, name, value]),
    isHeadersSent: () => headersSent,
    end: (response: unknown) => calls.push(['end', response]),
    getRequestMethod: () => 'POST',
    getRequestUrl: () => '/documents?token=secret',
  };
  return { adapter: adapter as unknown as HttpServer, calls };
}

function fakeHost(type: string): ArgumentsHost {
  const request = { kind: 'request' };
  const response = { kind: 'response' };
  return {
    getType: () => type,
    getArgs: () => [request, response],
    getArgByIndex: (index: number) => [request, response][index],
    switchToHttp: () => ({
      getRequest: () => request,
      getResponse: () => response,
      getNext: () => undefined,
    }),
  } as unknown as ArgumentsHost;
}

describe('QueueExceptionFilter through an adapter', () => {
  it('answers 400 with field and rule, through the adapter only', () => {
    const { adapter, calls } = fakeAdapter();
    new QueueExceptionFilter(adapter).catch(
      new QueueValidationError('body.content', 'must not contain \\u0000'),
      fakeHost('http'),
    );
    expect(calls).toEqual([
      [
        'reply',
        { kind: 'response' },
        {
          statusCode: 400,
          error: 'Bad Request',
          message: ['Invalid body.content: must not contain \\u0000'],
          field: 'body.content',
          rule: 'must not contain \\u0000',
        },
        400,
      ],
    ]);
  });

  it('answers 503 with Retry-After and a fixed message, and logs one line', () => {
    const { adapter, calls } = fakeAdapter();
    const logged = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    try {
      new QueueExceptionFilter(adapter).catch(
        fromDriver(driverError('connect ECONNREFUSED 10.0.0.7:5432', 'ECONNREFUSED')),
        fakeHost('http'),
      );
      // The request's path without its query string, which may carry a token.
      expect(logged.mock.calls).toEqual([
        [
          '503 for POST /documents: Queue enqueue failed: connect ECONNREFUSED 10.0.0.7:5432 (code ECONNREFUSED)',
        ],
      ]);
    } finally {
      logged.mockRestore();
    }
    expect(calls).toEqual([
      ['setHeader', { kind: 'response' }, 'Retry-After', '5'],
      [
        'reply',
        { kind: 'response' },
        {
          statusCode: 503,
          error: 'Service Unavailable',
          message: ['the queue is temporarily unavailable; retry later'],
        },
        503,
      ],
    ]);
  });

  it('only ends a response whose headers were already sent', () => {
    const { adapter, calls } = fakeAdapter(true);
    new QueueExceptionFilter(adapter).catch(
      new QueueValidationError('queue', 'must not be empty'),
      fakeHost('http'),
    );
    expect(calls).toEqual([['end', { kind: 'response' }]]);
  });

  it('rethrows outside HTTP, where it has no response to write', () => {
    const { adapter, calls } = fakeAdapter();
    const error = new QueueValidationError('queue', 'must not be empty');
    for (const type of ['rpc', 'ws', 'graphql']) {
      expect(() => new QueueExceptionFilter(adapter).catch(error, fakeHost(type))).toThrow(error);
    }
    expect(calls).toEqual([]);
  });

  it('says how to register it when it has no adapter', () => {
    expect(() =>
      new QueueExceptionFilter().catch(
        new QueueValidationError('queue', 'must not be empty'),
        fakeHost('http'),
      ),
    ).toThrow(/APP_FILTER/);
  });
});

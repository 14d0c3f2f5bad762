import { type ArgumentsHost, Catch, HttpStatus, type HttpServer, Logger } from '@nestjs/common';
import { BaseExceptionFilter } from '@nestjs/core';
import { QueueValidationError } from '../errors/queue-validation.error.js';
import { QueueError } from '../errors/queue.error.js';
import { httpStatusOf } from './http-status-of.js';

/**
 * Answers the queue's errors over HTTP: a {@link QueueValidationError} with 400 and its `field`
 * and `rule`, a database that cannot serve now with 503 and `Retry-After`; every other queue error
 * goes to Nest's own handling (a 500, logged), as if this filter were not there. It catches only
 * `QueueError`s, so the application's other errors never reach it.
 *
 * Like Nest's `BaseExceptionFilter`, which it extends, it writes through the HTTP adapter (express
 * or fastify alike): Nest injects the adapter when the filter is a provider, and an instance made
 * by hand takes it in its constructor. In an rpc, ws or GraphQL context it rethrows the error.
 *
 * ```ts
 * // app.module.ts: for every route, with dependency injection
 * import { APP_FILTER } from '@nestjs/core';
 * @Module({
 *   imports: [QueueModule.forRoot({ connectionString: process.env.DATABASE_URL })],
 *   providers: [{ provide: APP_FILTER, useClass: QueueExceptionFilter }],
 * })
 * export class AppModule {}
 *
 * // or main.ts, by hand
 * const { httpAdapter } = app.get(HttpAdapterHost);
 * app.useGlobalFilters(new QueueExceptionFilter(httpAdapter));
 * ```
 *
 * A 400 reads `{ statusCode: 400, error: 'Bad Request', message: ['Invalid queue: …'], field,
 * rule }`; a 503 `{ statusCode: 503, error: 'Service Unavailable', message: [...] }` with a fixed
 * message, and one error line in the log saying what failed.
 */
@Catch(QueueError)
export class QueueExceptionFilter extends BaseExceptionFilter<QueueError> {
  private readonly logger = new Logger('QueueExceptionFilter');

  /**
   * The `Retry-After` of a 503, in seconds: long enough for a pool to free a connection or a
   * restarted server to accept again, short enough that a client does not give up on a failover.
   */
  protected readonly retryAfterSeconds: number = 5;

  override catch(error: QueueError, host: ArgumentsHost): void {
    // Only HTTP has a response to write here; rpc, ws or GraphQL report the error their own way.
    if (host.getType() !== 'http') throw error;
    const status = httpStatusOf(error);
    if (status === HttpStatus.BAD_REQUEST) {
      this.reply(host, status, {
        statusCode: status,
        error: 'Bad Request',
        message: [error.message],
        ...(error instanceof QueueValidationError ? { field: error.field, rule: error.rule } : {}),
      });
      return;
    }
    if (status === HttpStatus.SERVICE_UNAVAILABLE) {
      // The client gets a fixed reason: the driver's text can name the host, port or role. The
      // operator gets what happened, on one line; queue errors never carry a password.
      this.logger.error(`503 for ${this.requestLine(host)}: ${error.message}`);
      this.reply(
        host,
        status,
        {
          statusCode: status,
          error: 'Service Unavailable',
          message: ['the queue is temporarily unavailable; retry later'],
        },
        String(this.retryAfterSeconds),
      );
      return;
    }
    super.catch(error, host);
  }

  private reply(host: ArgumentsHost, status: number, body: object, retryAfter?: string): void {
    const adapter = this.adapter();
    const response = host.switchToHttp().getResponse<unknown>();
    // As Nest's own filter does: a response already under way can only be ended.
    if (adapter.isHeadersSent(response)) {
      adapter.end(response);
      return;
    }
    if (retryAfter !== undefined) adapter.setHeader(response, 'Retry-After', retryAfter);
    adapter.reply(response, body, status);
  }

  /** `POST /documents`, without the query string, which may carry a token. */
  private requestLine(host: ArgumentsHost): string {
    const adapter = this.adapter();
    const request = host.switchToHttp().getRequest<unknown>();
    const method = adapter.getRequestMethod?.(request) ?? '?';
    const url = adapter.getRequestUrl?.(request) ?? '?';
    return `${method} ${url.split('?')[0] ?? url}`;
  }

  private adapter(): HttpServer {
    const adapter = this.applicationRef ?? this.httpAdapterHost?.httpAdapter;
    if (adapter === undefined) {
      throw new Error(
        'QueueExceptionFilter has no HTTP adapter: register it as a provider ({ provide: APP_FILTER, useClass: QueueExceptionFilter }) or pass the adapter, new QueueExceptionFilter(app.get(HttpAdapterHost).httpAdapter)',
      );
    }
    return adapter;
  }
}

import { HttpStatus } from '@nestjs/common';
import { isTransientDatabaseError } from '../database/transient-database-error.js';
import { QueueDatabaseError } from '../errors/queue-database.error.js';
import { QueueValidationError } from '../errors/queue-validation.error.js';

/** The statuses the queue's errors map to. */
export type QueueHttpStatus =
  HttpStatus.BAD_REQUEST | HttpStatus.INTERNAL_SERVER_ERROR | HttpStatus.SERVICE_UNAVAILABLE;

/**
 * The HTTP status a queue error stands for: a refused argument is the client's fault (400); a
 * database that cannot serve now is temporary (503, retry later); any other database failure is
 * the server's (500). `undefined` for anything else, which is not the queue's to answer.
 */
export function httpStatusOf(error: unknown): QueueHttpStatus | undefined {
  if (error instanceof QueueValidationError) return HttpStatus.BAD_REQUEST;
  if (error instanceof QueueDatabaseError) {
    return isTransientDatabaseError(error)
      ? HttpStatus.SERVICE_UNAVAILABLE
      : HttpStatus.INTERNAL_SERVER_ERROR;
  }
  return undefined;
}

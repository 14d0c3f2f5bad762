import {
  type ArgumentsHost,
  Catch,
  type ExceptionFilter,
  HttpStatus,
  Logger,
} from '@nestjs/common';
import { QueueDatabaseError, QueueValidationError } from '@fetchcraft/queue';

interface JsonResponse {
  status(code: number): JsonResponse;
  json(body: unknown): void;
}

/**
 * Turns the queue's typed errors into HTTP answers: a refused argument is the client's fault
 * (400, saying which field broke which rule), a database failure is ours (503, retry later).
 */
@Catch(QueueValidationError, QueueDatabaseError)
export class QueueErrorFilter implements ExceptionFilter {
  private readonly logger = new Logger('DemoHttp');

  catch(error: QueueValidationError | QueueDatabaseError, host: ArgumentsHost): void {
    const response = host.switchToHttp().getResponse<JsonResponse>();
    if (error instanceof QueueValidationError) {
      response.status(HttpStatus.BAD_REQUEST).json({
        statusCode: HttpStatus.BAD_REQUEST,
        error: 'Bad Request',
        message: [error.message],
        field: error.field,
        rule: error.rule,
      });
      return;
    }
    // The client gets a fixed reason; the operator gets what happened (no password in it).
    this.logger.error(`503 for ${error.operation}: ${error.message}`);
    response.status(HttpStatus.SERVICE_UNAVAILABLE).json({
      statusCode: HttpStatus.SERVICE_UNAVAILABLE,
      error: 'Service Unavailable',
      message: [`the queue could not ${error.operation}; retry later`],
    });
  }
}

import {
  type ArgumentsHost,
  Catch,
  type ExceptionFilter,
  HttpException,
  Logger,
  type Type,
} from '@nestjs/common';
import { QueueValidationError } from '../errors/queue-validation.error.js';
import {
  basePathOf,
  type DashboardHttpRequest,
  type DashboardHttpResponse,
  pathOf,
  sendResponse,
} from './dashboard-http.js';
import { type DashboardSettings } from './dashboard-settings.js';
import { errorPage } from './pages/error.page.js';
import { type PageContext } from './pages/page-context.js';

/**
 * Every exception of the dashboard's routes (its guard's refusal included) as an HTML page
 * with the dashboard's headers; the message is rendered as text.
 */
export function createDashboardFilter(
  settings: () => DashboardSettings | undefined,
  path: string,
): Type<ExceptionFilter> {
  @Catch()
  class DashboardExceptionFilter implements ExceptionFilter {
    private readonly logger = new Logger('QueueDashboard');

    catch(exception: unknown, host: ArgumentsHost): void {
      const http = host.switchToHttp();
      const request = http.getRequest<DashboardHttpRequest>();
      const response = http.getResponse<DashboardHttpResponse>();
      let status = 500;
      let message = 'The dashboard failed to answer; the application log says why.';
      if (exception instanceof HttpException) {
        status = exception.getStatus();
        message = exception.message;
      } else if (exception instanceof QueueValidationError) {
        status = 400;
        message = exception.message;
      } else {
        this.logger.error(
          `${request.method ?? 'GET'} ${pathOf(request)} failed`,
          exception instanceof Error ? exception.stack : String(exception),
        );
      }
      const base = basePathOf(pathOf(request), settings()?.path ?? path);
      const context: PageContext = {
        base,
        csrfToken: '',
        readOnly: true,
        self: base,
        now: new Date(),
      };
      sendResponse(
        response,
        status,
        'text/html; charset=utf-8',
        errorPage(context, { status, message }).text,
      );
    }
  }
  return DashboardExceptionFilter;
}

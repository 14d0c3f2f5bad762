import { HttpException } from '@nestjs/common';

/**
 * A request the dashboard refuses itself (read-only, CSRF, cross-site: 403; unknown: 404; a
 * form missing a field: 400), rendered as an error page by the dashboard's exception filter.
 */
export class DashboardRefusal extends HttpException {
  constructor(message: string, status: 400 | 403 | 404) {
    super(message, status);
  }
}

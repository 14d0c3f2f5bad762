import { type CanActivate, type Type } from '@nestjs/common';
import { type IncomingHttpHeaders } from 'node:http';

/**
 * The part of an HTTP request the dashboard's callbacks see: Express' and Fastify's requests
 * both have it. `user` is whatever the guard (Passport, say) left on the request.
 */
export interface DashboardRequest {
  readonly headers: IncomingHttpHeaders;
  readonly user?: unknown;
}

/**
 * The `dashboard` extra of `QueueModule.forRoot`: an operator's web UI served by the
 * application's own HTTP adapter (Express), behind the application's own guard.
 */
export interface DashboardOptions {
  /** Where it is mounted: `queues` serves `/queues`, `/queues/queues/<name>`, … Default `queues`. */
  readonly path?: string;
  /**
   * The guard every page and action goes through, as `@UseGuards(guard)` would apply it. It is
   * resolved in QueueModule's injector: its dependencies must be global providers (or
   * injectable there). Required unless `public: true`.
   */
  readonly guard?: Type<CanActivate>;
  /**
   * Serve it without a guard (a network that only operators reach, or a guard applied by the
   * application in front). The boot logs a warning that the dashboard is public.
   */
  readonly public?: boolean;
  /**
   * Look, but do not act: no action button is rendered and every POST is refused with 403. A
   * function decides per request (from `request.user`'s roles, say). Default false.
   */
  readonly readOnly?: boolean | ((request: DashboardRequest) => boolean);
  /**
   * Who acts, for the log line of each action. Default: `request.user`'s `username`, `email`,
   * `name`, `id` or `sub` (the first present), else `anonymous`.
   */
  readonly actor?: (request: DashboardRequest) => string | undefined;
}

import { type CanActivate, type Type } from '@nestjs/common';
import { DEFAULT_DASHBOARD_PATH } from '../config/defaults.js';
import { QueueOptionsError } from '../errors/queue-options.error.js';
import {
  type DashboardOptions,
  type DashboardRequest,
} from '../interfaces/dashboard-options.interface.js';

/** The `dashboard` extra, checked: what the controller is built from. */
export interface DashboardSettings {
  /** Without slashes at either end, e.g. `queues` or `admin/queues`. */
  readonly path: string;
  readonly guard: Type<CanActivate> | undefined;
  /** Mounted without a guard on purpose: the boot warns of it. */
  readonly isPublic: boolean;
  readonly readOnly: (request: DashboardRequest) => boolean;
  readonly actor: (request: DashboardRequest) => string;
}

const PATH = /^[A-Za-z0-9._~-]+(\/[A-Za-z0-9._~-]+)*$/;

/**
 * The dashboard's options, checked once. A dashboard without a guard is refused unless it says
 * it is public: operators' buttons that retry and delete must not be served to anyone by
 * omission.
 *
 * @throws QueueOptionsError naming `dashboard.guard`, `dashboard.path` or `dashboard.readOnly`.
 */
export function resolveDashboardSettings(options: DashboardOptions): DashboardSettings {
  const path = (options.path ?? DEFAULT_DASHBOARD_PATH).replace(/^\/+|\/+$/g, '');
  if (!PATH.test(path) || path.split('/').some((segment) => /^\.+$/.test(segment))) {
    throw new QueueOptionsError(
      'dashboard.path',
      'must be one or more URL path segments of letters, digits and . _ ~ -, e.g. "queues" or "admin/queues"',
    );
  }
  const isPublic = options.public === true;
  if (options.guard === undefined && !isPublic) {
    throw new QueueOptionsError(
      'dashboard.guard',
      'is required: pass the guard that admits operators (dashboard: { guard: AdminGuard }), or public: true to serve the dashboard to anyone who reaches it',
    );
  }
  if (options.guard !== undefined && typeof options.guard !== 'function') {
    throw new QueueOptionsError('dashboard.guard', 'must be a guard class (a CanActivate)');
  }
  const readOnly = options.readOnly ?? false;
  if (typeof readOnly !== 'boolean' && typeof readOnly !== 'function') {
    throw new QueueOptionsError(
      'dashboard.readOnly',
      'must be a boolean or a function of the request',
    );
  }
  return {
    path,
    guard: options.guard,
    isPublic,
    readOnly:
      typeof readOnly === 'function' ? (request) => readOnly(request) === true : () => readOnly,
    actor: (request) => options.actor?.(request) ?? defaultActor(request),
  };
}

const ACTOR_FIELDS = ['username', 'email', 'name', 'id', 'sub'] as const;

/** `request.user` as the guard left it: its first name-like field, else `anonymous`. */
export function defaultActor(request: DashboardRequest): string {
  const user = request.user;
  if (user !== null && typeof user === 'object') {
    for (const field of ACTOR_FIELDS) {
      const value = (user as Record<string, unknown>)[field];
      if (typeof value === 'string' && value !== '') return value;
      if (typeof value === 'number') return String(value);
    }
  }
  return 'anonymous';
}

import { type CanActivate, type ExecutionContext, Injectable, Module } from '@nestjs/common';
import { QueueModule, type DashboardRequest } from '@fetchcraft/queue';

interface Operator {
  readonly email: string;
  readonly roles: readonly string[];
}

/**
 * The application's own guard; here it trusts a user an upstream authentication left on the
 * request (Passport's `request.user`, say). Its dependencies must be global providers: the
 * dashboard resolves it in QueueModule's injector.
 */
@Injectable()
export class OperatorGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<{ user?: Operator }>();
    const roles = request.user?.roles ?? [];
    return roles.includes('queue-admin') || roles.includes('queue-viewer');
  }
}

const isViewer = (request: DashboardRequest) =>
  !((request.user as Operator | undefined)?.roles ?? []).includes('queue-admin');

@Module({
  imports: [
    QueueModule.forRoot({
      connectionString: process.env.DATABASE_URL,
      dashboard: {
        path: 'admin/queues', // served at /admin/queues; default 'queues'
        guard: OperatorGuard, // required, unless public: true (the boot warns of it)
        readOnly: isViewer, // viewers see every page, but no button, and their POSTs get 403
        actor: (request) => (request.user as Operator | undefined)?.email, // who, in the log
      },
    }),
  ],
})
export class DashboardModule {}

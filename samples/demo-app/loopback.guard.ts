import { type CanActivate, type ExecutionContext, Injectable } from '@nestjs/common';

const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);

/**
 * The demo's dashboard guard: only a browser on this machine may look and act. The demo has no
 * users to authenticate; a real application passes its own guard (see the README). Behind a
 * proxy or a container port mapping every request comes from the proxy's address, which is not
 * loopback, so the dashboard refuses it there: DEMO_DASHBOARD=public opens it on purpose.
 */
@Injectable()
export class LoopbackGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<{ socket?: { remoteAddress?: string } }>();
    return LOOPBACK.has(request.socket?.remoteAddress ?? '');
  }
}

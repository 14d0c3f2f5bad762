import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { HealthIndicatorService, type HealthIndicatorResult } from '@nestjs/terminus';
import { RunningWorkers } from '../workers/running-workers.js';

/**
 * What the liveness and readiness probes look at besides the database: whether the worker loops
 * run, and whether the application is shutting down. Never touches the database.
 *
 * Shutdown is noted in `onModuleDestroy`, the first hook Nest calls when it closes, before any
 * `beforeApplicationShutdown` (where the workers drain) and while HTTP still answers: for the
 * whole drain readiness says 503, so traffic goes elsewhere, and liveness stays 200, so nothing
 * restarts a pod that is finishing its work.
 */
@Injectable()
export class ProcessHealthIndicator implements OnModuleDestroy {
  private shuttingDown = false;

  constructor(
    @Inject(HealthIndicatorService) private readonly health: HealthIndicatorService,
    @Inject(RunningWorkers) private readonly running: RunningWorkers,
  ) {}

  onModuleDestroy(): void {
    this.shuttingDown = true;
  }

  /** `up` while every worker loop of this process runs. */
  workers(): HealthIndicatorResult<'workers'> {
    const session = this.health.check('workers');
    const workers = this.running.all();
    const stopped = workers.filter((worker) => !worker.isRunning).map((worker) => worker.queue);
    const details = {
      running: workers.length - stopped.length,
      uptimeSeconds: Math.round(process.uptime()),
    };
    return stopped.length === 0 || this.shuttingDown
      ? session.up(details)
      : session.down({ ...details, stopped });
  }

  /** `down` once shutdown has begun, so load balancers stop sending work. */
  acceptingWork(): HealthIndicatorResult<'shutdown'> {
    const session = this.health.check('shutdown');
    return this.shuttingDown ? session.down({ message: 'shutting down' }) : session.up();
  }
}

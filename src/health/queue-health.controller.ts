import { Controller, Get, Inject, ServiceUnavailableException, type Type } from '@nestjs/common';
import { HealthCheck, HealthCheckService, type HealthCheckResult } from '@nestjs/terminus';
import { ProcessHealthIndicator } from './process-health.indicator.js';
import { QueueHealthIndicator } from './queue.health-indicator.js';
import { QueueVacuumHealthIndicator } from './vacuum.health-indicator.js';

/**
 * The ready-made probe endpoints under `path`:
 *
 * - `GET <path>/live`: liveness. The process and its worker loops run. Never touches the
 *   database or looks at queue depth: a busy queue or a database blip must not make Kubernetes
 *   restart every pod.
 * - `GET <path>/ready`: readiness. The database answers within the timeout and the application
 *   is not shutting down.
 * - `GET <path>`: the full report with queue depths and thresholds, and the `vacuum` check (the
 *   xmin horizon's age, the queue table's dead tuples), 503 when one is crossed.
 */
export function createQueueHealthController(path: string): Type<unknown> {
  @Controller(path)
  class QueueHealthController {
    constructor(
      @Inject(HealthCheckService) private readonly health: HealthCheckService,
      @Inject(QueueHealthIndicator) private readonly queue: QueueHealthIndicator,
      @Inject(ProcessHealthIndicator) private readonly process: ProcessHealthIndicator,
      @Inject(QueueVacuumHealthIndicator) private readonly vacuum: QueueVacuumHealthIndicator,
    ) {}

    @Get('live')
    @HealthCheck()
    live(): HealthCheckResult {
      // Not through HealthCheckService: Terminus answers 503 "shutting_down" to every check once
      // its own beforeApplicationShutdown ran, which comes before the workers' drain (the queue
      // module is global, so Nest shuts it down last). A pod finishing its work stays live.
      const result = this.process.workers();
      const up = result.workers.status === 'up';
      const report: HealthCheckResult = {
        status: up ? 'ok' : 'error',
        info: up ? result : {},
        error: up ? {} : result,
        details: result,
      };
      if (!up) throw new ServiceUnavailableException(report);
      return report;
    }

    @Get('ready')
    @HealthCheck()
    ready() {
      return this.health.check([
        () => this.process.acceptingWork(),
        () => this.queue.pingCheck('database'),
      ]);
    }

    @Get()
    @HealthCheck()
    report() {
      return this.health.check([
        () => this.queue.pingCheck('database'),
        () => this.queue.isHealthy('queues'),
        () => this.vacuum.isHealthy('vacuum'),
      ]);
    }
  }
  return QueueHealthController;
}

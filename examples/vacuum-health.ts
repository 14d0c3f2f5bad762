import { Controller, Get, Inject, Module } from '@nestjs/common';
import { HealthCheck, HealthCheckService, TerminusModule } from '@nestjs/terminus';
import { QueueHealthIndicator, QueueModule, QueueVacuumHealthIndicator } from '@fetchcraft/queue';

@Controller('status')
export class StatusController {
  constructor(
    @Inject(HealthCheckService) private readonly health: HealthCheckService,
    @Inject(QueueHealthIndicator) private readonly queue: QueueHealthIndicator,
    @Inject(QueueVacuumHealthIndicator) private readonly vacuum: QueueVacuumHealthIndicator,
  ) {}

  @Get()
  @HealthCheck()
  check() {
    return this.health.check([
      () => this.queue.pingCheck(),
      () => this.queue.isHealthy(),
      // down when a transaction has held back vacuum for 15 minutes, or dead tuples pile up
      () => this.vacuum.isHealthy(),
    ]);
  }
}

@Module({
  imports: [
    TerminusModule,
    QueueModule.forRoot({
      health: {
        maxFailed: 100,
        maxHorizonAgeSeconds: 900,
        maxDeadTuples: 2_000_000,
        // listed with zeros while empty, like every queue with a processor in this process
        queues: { 'ingest.main': { maxOldestReadyAgeSeconds: 300 } },
      },
    }),
  ],
  controllers: [StatusController],
})
export class StatusModule {}

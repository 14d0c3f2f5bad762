import { Module } from '@nestjs/common';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { QueueModule } from '@fetchcraft/queue';

/** The application's registry: its own metrics, Node's, and the queue's, on one endpoint. */
export const registry = new Registry();
collectDefaultMetrics({ register: registry });

@Module({
  imports: [
    QueueModule.forRoot({
      metrics: {
        registry, // default: prom-client's global `register`
        depthIntervalMs: 15_000, // one depth statement per interval per process; false for none
      },
      metricsEndpoint: true, // GET /metrics serves `registry`; or { path: 'internal/metrics' }
    }),
  ],
})
export class MetricsModule {}

import { Controller, Get, Inject, Res, type Type } from '@nestjs/common';
import { QueueOptionsError } from '../errors/queue-options.error.js';
import { type PrometheusRegistry } from '../interfaces/metrics-options.interface.js';
import { QueueMetrics } from './queue-metrics.js';

/** The part of an HTTP response the endpoint writes: Express' and Fastify's both have it. */
interface ScrapeResponse {
  header(name: string, value: string): unknown;
  send(body: string): unknown;
}

/**
 * `GET <path>`: the Prometheus exposition of the registry the queue metrics are in (the
 * application's own metrics of that registry included, as any `/metrics` endpoint serves them).
 * Without the `metrics` option the boot fails: an endpoint with nothing to serve is a wiring
 * mistake.
 */
export function createQueueMetricsController(path: string): Type<unknown> {
  @Controller(path)
  class QueueMetricsController {
    private readonly registry: PrometheusRegistry;

    constructor(@Inject(QueueMetrics) metrics: QueueMetrics) {
      if (metrics.registry === undefined) {
        throw new QueueOptionsError(
          'metricsEndpoint',
          'needs the metrics option (metrics: true, or its options): without it there are no metrics to serve',
        );
      }
      this.registry = metrics.registry;
    }

    @Get()
    async scrape(@Res() response: ScrapeResponse): Promise<void> {
      const registry = this.registry;
      const text = await registry.metrics();
      response.header('Content-Type', registry.contentType);
      // Every scrape must see the values of now, never a proxy's copy.
      response.header('Cache-Control', 'no-store');
      response.send(text);
    }
  }
  return QueueMetricsController;
}

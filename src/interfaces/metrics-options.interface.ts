/**
 * What the queue needs of a prom-client `Registry`: a `Registry` of prom-client 15 (or its
 * default `register`) fits. Declared here so that the package's types never name prom-client,
 * which an application without metrics does not install.
 */
export interface PrometheusRegistry {
  registerMetric(metric: never): void;
  getSingleMetric(name: string): unknown;
  removeSingleMetric(name: string): void;
  /** The exposition text of every metric registered here. */
  metrics(): Promise<string>;
  /** The `Content-Type` of that text. */
  readonly contentType: string;
}

/**
 * The `metrics` option of `QueueModule.forRoot`: Prometheus metrics through prom-client, an
 * optional peer dependency loaded only when this option is set (`npm install prom-client`).
 */
export interface QueueMetricsOptions {
  /**
   * Where the metrics are registered: the application's own registry, or prom-client's default
   * `register` when absent (what `collectDefaultMetrics()` and most `/metrics` endpoints use).
   */
  readonly registry?: PrometheusRegistry;
  /**
   * Put before every metric name (`myapp_` gives `myapp_fetchcraft_queue_processed_total`), so
   * that two queue modules can share one registry. Default none.
   */
  readonly prefix?: string;
  /**
   * How often this process samples the depth gauges with one statement (the health check's),
   * never per scrape. Default 15,000 ms; `false` samples nothing here (on API-only replicas,
   * say, when the workers' replicas sample).
   */
  readonly depthIntervalMs?: number | false;
}

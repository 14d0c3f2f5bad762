import { ConfigurableModuleBuilder } from '@nestjs/common';
import { createDashboardController } from './dashboard/dashboard.controller.js';
import { createQueueHealthController } from './health/queue-health.controller.js';
import { type DashboardOptions } from './interfaces/dashboard-options.interface.js';
import { type QueueModuleOptions } from './interfaces/queue-module-options.interface.js';
import { createQueueMetricsController } from './metrics/queue-metrics.controller.js';

/** Options known when the module is declared, before any async factory runs. */
export interface QueueModuleExtras {
  /**
   * Make `QueueService` (and the other exports) injectable everywhere, so feature modules need no
   * import, or only `QueueModule.forFeature([...])` for producers. Default true, as
   * `TypeOrmModule.forRoot` is; false keeps them to the module that imports this one.
   */
  isGlobal?: boolean;
  /**
   * Serve `GET <path>/live`, `<path>/ready` and `<path>` (Terminus health checks); `true` means
   * path `health`. Needs an HTTP platform (for example @nestjs/platform-express). Default off.
   */
  healthEndpoints?: boolean | { path?: string };
  /**
   * Serve `GET <path>` in the Prometheus text format, from the registry of the `metrics` option
   * (a boot without that option fails); `true` means path `metrics`. Leave it off when the
   * application already serves that registry. Needs an HTTP platform. Default off.
   */
  metricsEndpoint?: boolean | { path?: string };
  /**
   * Serve the operator's dashboard (pages of queues, messages, processors, schedules, blocked
   * groups, and actions on them) under `path` (default `queues`), behind `guard`. A dashboard
   * without a guard stops the boot unless `public: true`. Needs @nestjs/platform-express.
   * Default off.
   */
  dashboard?: DashboardOptions;
}

export const {
  ConfigurableModuleClass: QueueConfigurableModule,
  MODULE_OPTIONS_TOKEN: QUEUE_MODULE_OPTIONS,
  OPTIONS_TYPE: QUEUE_OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE: QUEUE_ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<QueueModuleOptions>({ moduleName: 'Queue' })
  .setClassMethodName('forRoot')
  .setFactoryMethodName('createQueueOptions')
  .setExtras<QueueModuleExtras>(
    { isGlobal: true, healthEndpoints: false, metricsEndpoint: false, dashboard: undefined },
    (definition, extras) => ({
      ...definition,
      global: extras.isGlobal,
      controllers: [
        ...healthControllers(extras.healthEndpoints),
        ...metricsControllers(extras.metricsEndpoint),
        ...(extras.dashboard === undefined ? [] : [createDashboardController(extras.dashboard)]),
      ],
    }),
  )
  .build();

function healthControllers(endpoints: QueueModuleExtras['healthEndpoints']) {
  if (endpoints === undefined || endpoints === false) return [];
  const path = endpoints === true ? 'health' : (endpoints.path ?? 'health');
  return [createQueueHealthController(path)];
}

function metricsControllers(endpoint: QueueModuleExtras['metricsEndpoint']) {
  if (endpoint === undefined || endpoint === false) return [];
  const path = endpoint === true ? 'metrics' : (endpoint.path ?? 'metrics');
  return [createQueueMetricsController(path)];
}

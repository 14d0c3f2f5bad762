export { QueueModule } from './queue.module.js';
export { type QueueModuleExtras } from './queue.module-definition.js';
export { QueueService } from './queue.service.js';
export { QueueProducer, type QueueProducerFor } from './queue-producer.js';
export {
  type QueueBody,
  type QueueResult,
  type QueueTypeEntry,
  type QueueTypes,
} from './interfaces/queue-types.interface.js';
export { InjectQueue, getQueueToken } from './inject-queue.decorator.js';
export { QueueHealthIndicator } from './health/queue.health-indicator.js';
/** The `vacuum` check of the health report: the xmin horizon's age and the queue table's dead tuples. */
export { QueueVacuumHealthIndicator } from './health/vacuum.health-indicator.js';
export { type VacuumHealthDetails } from './health/vacuum-limits.js';
/**
 * HTTP answers for the queue's errors (400 with `field`/`rule`, 503 with `Retry-After`):
 * `providers: [{ provide: APP_FILTER, useClass: QueueExceptionFilter }]`.
 */
export { QueueExceptionFilter } from './http/queue-exception.filter.js';
export { Processor } from './processor/processor.decorator.js';
/** Declares a recurring message for the `@Processor` of the same method. */
export { RecurringMessage } from './schedule/recurring-message.decorator.js';
/** The schedule and tick a recurring message was enqueued for (from its `uniqueKey`). */
export { scheduledTickOf } from './schedule/scheduled-tick.js';
/** Recurring messages: their options, declarations, listing and missed-tick policy. */
export {
  type MissedTicksPolicy,
  type RecurringMessageOptions,
  type ScheduleDeclaration,
  type ScheduleEnqueueOptions,
  type ScheduleInfo,
  type ScheduleOptions,
  type ScheduleSource,
  type ScheduledTick,
} from './interfaces/schedule-options.interface.js';
export { ProcessorRegistry } from './workers/processor.registry.js';
/**
 * Queue events: `@OnQueueEvent('completed' | 'failed' | 'dead-lettered' | 'cancelled' |
 * 'stalled' | 'progress', queue?)` on a provider method; the payloads by name in `QueueEventMap`.
 */
export { OnQueueEvent } from './events/on-queue-event.decorator.js';
export {
  QUEUE_EVENT_NAMES,
  type QueueCancelledEvent,
  type QueueCancelledWhen,
  type QueueCompletedEvent,
  type QueueDeadLetteredEvent,
  type QueueEventBase,
  type QueueEventListener,
  type QueueEventMap,
  type QueueEventName,
  type QueueFailedEvent,
  type QueueProgressEvent,
  type QueueStalledEvent,
  type QueueStalledOutcome,
} from './interfaces/queue-events.interface.js';
/** Prometheus metrics through prom-client (an optional peer dependency): the `metrics` option. */
export {
  type PrometheusRegistry,
  type QueueMetricsOptions,
} from './interfaces/metrics-options.interface.js';
export {
  type CleanupScheduleOptions,
  type QueueHealthOptions,
  type QueueHealthThresholds,
  type ReaperOptions,
} from './interfaces/maintenance-options.interface.js';
export {
  type BackoffOptions,
  type BodyClass,
  type ProcessorDefaults,
  type ProcessorOptions,
  type RateLimitOptions,
} from './interfaces/processor-options.interface.js';
export {
  type ProcessorInfo,
  type ProcessorMessage,
  type TransactionalMessage,
  type WorkerState,
} from './interfaces/processor-message.interface.js';
export {
  type QueueModuleOptions,
  type QueueOptionsFactory,
} from './interfaces/queue-module-options.interface.js';
export {
  MESSAGE_STATES,
  type LeasedMessage,
  type MessageState,
  type QueueErrorRecord,
  type QueueLease,
  type QueueMessage,
} from './interfaces/queue-message.interface.js';
export {
  type CleanupOptions,
  type CleanupResult,
  type ArchivePartitionsResult,
  type EnqueueFlowOptions,
  type EnqueueManyOptions,
  type EnqueueOptions,
  type LeaseOptions,
  type PerMessage,
  type UniqueWhile,
  type NackOptions,
  type ReapOptions,
} from './interfaces/queue-operation-options.interface.js';
export {
  type QueueDepth,
  type QueueStats,
  type ReadyCounts,
  type StateCounts,
} from './interfaces/queue-stats.interface.js';
export type { BlockedGroup, GroupBlock } from './interfaces/blocked-group.interface.js';
export type { ListSamplesOptions, QueueSample } from './interfaces/queue-sample.interface.js';
export type { QueueReplica, ReplicaProcessor } from './interfaces/queue-replica.interface.js';
export type {
  DashboardOptions,
  DashboardRequest,
} from './interfaces/dashboard-options.interface.js';
export type {
  QueueHeartbeatOptions,
  QueueSamplesOptions,
  RetryFailedInBatchesOptions,
} from './interfaces/dashboard-data-options.interface.js';
export type {
  ChildFailure,
  FlowChild,
  FlowNode,
  FlowNodeOptions,
  FlowTree,
} from './interfaces/flow.interface.js';
export { QueueError } from './errors/queue.error.js';
export { QueueValidationError } from './errors/queue-validation.error.js';
export { QueueOptionsError } from './errors/queue-options.error.js';
export {
  QueueDatabaseError,
  type QueueDatabaseErrorDetails,
} from './errors/queue-database.error.js';
export { QueuePoolTimeoutError } from './errors/queue-pool-timeout.error.js';
/** Boot's role may not apply pending migrations or read the queue's tables (code 42501). */
export { QueuePrivilegeError } from './errors/queue-privilege.error.js';
export { NoSuitableHostError } from './errors/no-suitable-host.error.js';
export { QueueProcessorError } from './errors/queue-processor.error.js';
export { QueueEventListenerError } from './errors/queue-event-listener.error.js';
export { UnrecoverableError } from './errors/unrecoverable.error.js';
export { SnoozeError } from './errors/snooze.error.js';
export { LeaseLostError } from './errors/lease-lost.error.js';
export { ShutdownError } from './errors/shutdown.error.js';
export { AttemptsExhaustedError } from './errors/attempts-exhausted.error.js';
export { BodyValidationError, type BodyValidationFailure } from './errors/body-validation.error.js';
export { HandlerTimeoutError } from './errors/handler-timeout.error.js';
/** The `signal.reason` of a handler whose message was cancelled (`QueueService.cancel`). */
export { MessageCancelledError } from './errors/message-cancelled.error.js';
export { MessageFailedError } from './errors/message-failed.error.js';
export { MessageDeletedError } from './errors/message-deleted.error.js';
export { WaitTimeoutError } from './errors/wait-timeout.error.js';
export { ResultValidationError } from './errors/result-validation.error.js';
export type { QueueMessageDetail, WaitForOptions } from './interfaces/message-detail.interface.js';
/** What `QueueService.cancel` did, and its options. */
export { type CancelOptions, type CancelResult } from './interfaces/queue-control.interface.js';
export { queueMigrations, type QueueMigrationClass } from './migrations/index.js';
export { migrateQueue, queueMigrationStatus } from './database/migrate-queue.js';
/** The GRANT statements of an application role that does not own the queue's tables. */
export { queueGrantsSql } from './database/queue-grants.js';
export {
  type QueueMigrationOptions,
  type QueueMigrationResult,
  type QueueMigrationStatus,
} from './interfaces/queue-migration.interface.js';
export { queueTableNames } from './config/identifier-rules.js';
export { redactConnectionString } from './config/connection-string.js';
export { type QueueTableNames } from './sql/table-names.js';
export {
  MAX_BODY_DEPTH,
  MAX_ENQUEUE_BATCH,
  MAX_ENQUEUE_BATCH_BYTES,
  MAX_FLOW_DEPTH,
  MAX_FLOW_NODES,
  MAX_KEY_LENGTH,
  MAX_LEASE_BATCH,
  MAX_MESSAGE_ID_LENGTH,
  MAX_PRIORITY,
  MAX_QUEUE_NAME_LENGTH,
  MAX_SECONDS,
} from './config/limits.js';

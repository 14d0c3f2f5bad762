export { QueueModule } from './queue.module.js';
export { QueueService } from './queue.service.js';
export { type QueueModuleExtras } from './queue.module-definition.js';
export { QueueHealthIndicator, type QueueDepth } from './health/queue.health-indicator.js';
export {
  type CleanupScheduleOptions,
  type QueueHealthOptions,
  type QueueHealthThresholds,
  type ReaperOptions,
} from './interfaces/maintenance-options.interface.js';
export { Processor } from './processor/processor.decorator.js';
export { ProcessorRegistry } from './processor/processor.registry.js';
export {
  type BackoffOptions,
  type BodyClass,
  type ProcessorDefaults,
  type ProcessorOptions,
} from './interfaces/processor-options.interface.js';
export {
  type ProcessorInfo,
  type ProcessorMessage,
} from './interfaces/processor-message.interface.js';
export {
  type QueueModuleOptions,
  type QueueOptionsFactory,
} from './interfaces/queue-module-options.interface.js';
export {
  MESSAGE_STATES,
  type LeasedMessage,
  type BodyValidationFailure,
  type MessageState,
  type QueueErrorRecord,
  type QueueLease,
  type QueueMessage,
} from './interfaces/queue-message.interface.js';
export {
  type CleanupOptions,
  type CleanupResult,
  type EnqueueOptions,
  type LeaseOptions,
  type NackOptions,
  type ReapOptions,
} from './interfaces/queue-operation-options.interface.js';
export { type QueueStats, type StateCounts } from './interfaces/queue-stats.interface.js';
export { QueueError } from './errors/queue.error.js';
export { QueueValidationError } from './errors/queue-validation.error.js';
export { QueueOptionsError } from './errors/queue-options.error.js';
export {
  QueueDatabaseError,
  type QueueDatabaseErrorDetails,
} from './errors/queue-database.error.js';
export { QueuePoolTimeoutError } from './errors/queue-pool-timeout.error.js';
export { QueueProcessorError } from './errors/queue-processor.error.js';
export { UnrecoverableError } from './errors/unrecoverable.error.js';
export { SnoozeError } from './errors/snooze.error.js';
export { queueMigrations, type QueueMigrationClass } from '../migrations/index.js';
export { queueTableNames, type QueueTableNames } from './sql/queue-table.js';
export { MAX_BODY_DEPTH } from './validation/json-body.js';
export {
  MAX_LEASE_BATCH,
  MAX_MESSAGE_ID_LENGTH,
  MAX_QUEUE_NAME_LENGTH,
  MAX_SECONDS,
} from './validation/queue-arguments.js';

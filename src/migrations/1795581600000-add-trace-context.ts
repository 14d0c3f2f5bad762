import { type MigrationInterface, type QueryRunner } from 'typeorm';
import { type QueueTableNames } from '../sql/table-names.js';
import { moveArchivedAtLast } from './1795570800000-add-flow-control.js';
import { takeMigrationLocks } from './migration-lock.js';
import { type QueueMigrationClass } from './queue-migration-class.js';

/**
 * `trace_context`: the W3C trace context (`traceparent`, `tracestate`) of the span a message
 * was sent under, as a JSON carrier (see `src/tracing/trace-context.ts`), so that the handler's
 * span continues the producer's trace. NULL unless the application registered an OpenTelemetry
 * tracer provider when it enqueued.
 *
 * Nullable without a default: adding it rewrites no row of the queue table (a catalog change
 * under a brief lock), and the Python backend's INSERTs, which do not name it, keep working.
 */
export function addTraceContext(t: QueueTableNames): QueueMigrationClass {
  return class AddTraceContext1795581600000 implements MigrationInterface {
    readonly name = 'AddTraceContext1795581600000';

    async up(queryRunner: QueryRunner): Promise<void> {
      await takeMigrationLocks(queryRunner, t);
      // The archive first, `archived_at` kept last, so that the Python backend's `INSERT INTO
      // messages_archive SELECT * FROM messages` lines up at every moment.
      await queryRunner.query(
        `ALTER TABLE ${t.qualifiedArchive} ADD COLUMN IF NOT EXISTS trace_context TEXT`,
      );
      await moveArchivedAtLast(queryRunner, t);
      await queryRunner.query(
        `ALTER TABLE ${t.qualified} ADD COLUMN IF NOT EXISTS trace_context TEXT`,
      );
    }

    async down(queryRunner: QueryRunner): Promise<void> {
      for (const table of [t.qualified, t.qualifiedArchive]) {
        await queryRunner.query(`ALTER TABLE ${table} DROP COLUMN trace_context`);
      }
    }
  };
}

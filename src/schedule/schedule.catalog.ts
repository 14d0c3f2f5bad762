import { Injectable } from '@nestjs/common';
import { type ScheduleDefinition } from '../sql/schedules.sql.js';

/**
 * The schedules this application declares in code (module options and `@RecurringMessage`), as
 * discovery found and checked them at module init. Written once by the explorer; read by the
 * scheduler, which upserts them at bootstrap.
 */
@Injectable()
export class ScheduleCatalog {
  private entries: readonly ScheduleDefinition[] = [];

  get definitions(): readonly ScheduleDefinition[] {
    return this.entries;
  }

  record(definitions: readonly ScheduleDefinition[]): void {
    this.entries = Object.freeze([...definitions]);
  }
}

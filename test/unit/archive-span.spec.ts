import { describe, expect, it } from '@jest/globals';
import {
  ARCHIVE_PARTITIONS_AHEAD,
  ARCHIVE_SPAN_SECONDS,
  archiveSpanStart,
  legacyUpperBound,
} from '../../src/config/archive-span.js';
import { maintainArchivePartitionsSql } from '../../src/sql/archive-partitions.sql.js';
import { queueTableNames } from '../../src/config/identifier-rules.js';

const at = (iso: string) => Date.parse(iso) / 1000;

describe('the archive span', () => {
  it('is a week from Monday 00:00 UTC, before and after the epoch', () => {
    expect(archiveSpanStart(at('2026-11-30T00:00:00Z'))).toBe(at('2026-11-30T00:00:00Z'));
    expect(archiveSpanStart(at('2026-12-06T23:59:59Z'))).toBe(at('2026-11-30T00:00:00Z'));
    expect(archiveSpanStart(at('2026-12-07T00:00:00Z'))).toBe(at('2026-12-07T00:00:00Z'));
    // 1970-01-01 was a Thursday: its week began on Monday 1969-12-29.
    expect(archiveSpanStart(0)).toBe(at('1969-12-29T00:00:00Z'));
    expect(archiveSpanStart(-1)).toBe(at('1969-12-29T00:00:00Z'));
  });

  it("puts the old archive's bound four weeks ahead, or past its latest row", () => {
    const now = at('2026-12-02T12:00:00Z');
    const ahead = at('2026-11-30T00:00:00Z') + ARCHIVE_PARTITIONS_AHEAD * ARCHIVE_SPAN_SECONDS;
    expect(legacyUpperBound(now, null)).toBe(ahead);
    expect(legacyUpperBound(now, now - 86_400)).toBe(ahead);
    // A row archived "in the future" (an operator's insert) stays below the bound.
    expect(legacyUpperBound(now, ahead + 10)).toBe(ahead + ARCHIVE_SPAN_SECONDS);
  });

  it("binds the keeper's arguments, null for keep-forever", () => {
    const names = queueTableNames('jobs', 'messages');
    expect(maintainArchivePartitionsSql(names, 4, null)).toEqual({
      text: 'SELECT created, dropped, moved::integer AS moved FROM "jobs"."messages_archive_partitions"($1::integer, $2::bigint)',
      values: [4, null],
    });
  });
});

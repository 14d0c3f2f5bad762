/**
 * The archive's partitions span one week each, Monday 00:00 UTC to the next Monday, in epoch
 * seconds like `archived_at`.
 *
 * A week, not a day: the archive holds dead letters, a trickle next to the queue table, and a
 * lookup by id (which cannot be pruned: the partition key is `archived_at`) probes one index per
 * partition. A year kept is 53 partitions a week apart, 366 a day apart. Retention is meant in
 * weeks or months, so a week late at most is precise enough.
 */
export const ARCHIVE_SPAN_SECONDS = 7 * 86_400;

/** 1970-01-05, the first Monday after the epoch (a Thursday): spans start on Mondays. */
export const ARCHIVE_SPAN_ORIGIN_SECONDS = 4 * 86_400;

/**
 * Spans created ahead of the current one by each maintenance run: with the hourly cleanup, four
 * weeks of missed runs before a row could land in the default partition.
 */
export const ARCHIVE_PARTITIONS_AHEAD = 4;

/** The start of the span holding `epochSeconds`. */
export function archiveSpanStart(epochSeconds: number): number {
  const offset =
    (((epochSeconds - ARCHIVE_SPAN_ORIGIN_SECONDS) % ARCHIVE_SPAN_SECONDS) + ARCHIVE_SPAN_SECONDS) %
    ARCHIVE_SPAN_SECONDS;
  return epochSeconds - offset;
}

/**
 * The upper bound of the pre-partitioning archive once attached as one partition (from the
 * lowest value): past every row it holds, and four spans past now, so that rows archived between
 * the preparation (which adds the bound as a CHECK) and the migration still fit it.
 */
export function legacyUpperBound(nowSeconds: number, maxArchivedAt: number | null): number {
  const ahead = archiveSpanStart(nowSeconds) + ARCHIVE_PARTITIONS_AHEAD * ARCHIVE_SPAN_SECONDS;
  return maxArchivedAt === null
    ? ahead
    : Math.max(ahead, archiveSpanStart(maxArchivedAt) + ARCHIVE_SPAN_SECONDS);
}

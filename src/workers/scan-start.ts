import { type LeasePosition } from '../sql/lease.sql.js';

/**
 * How often a fetch loop leases from the head of its queue even though it could start past its
 * last lease: messages that became due before that position (given back at a shutdown, reaped,
 * committed after a later one) wait at most about this long.
 */
export const HEAD_SCAN_INTERVAL_MS = 1_000;

/**
 * Where a fetch loop's leases start. Leasing past the last position reached skips the index
 * entries of messages already leased, which a pinned xmin horizon keeps from being removed; a
 * lease from the head, at least every HEAD_SCAN_INTERVAL_MS, picks up what became due behind
 * that position.
 */
export class ScanStart {
  private position: LeasePosition | undefined;
  private lastHeadScan = Number.NEGATIVE_INFINITY;
  /** Whether the lease in flight (the last `next`) starts from the head. */
  private fromHead = false;

  /** Where the lease starting at `now` (ms) should begin: undefined for the head. */
  next(now: number): LeasePosition | undefined {
    this.fromHead = this.position === undefined || now - this.lastHeadScan >= HEAD_SCAN_INTERVAL_MS;
    if (this.fromHead) {
      this.lastHeadScan = now;
      return undefined;
    }
    return this.position;
  }

  /**
   * Messages were given back behind the position (the loop released its buffer): the next lease
   * starts from the head, and the position moves on from there.
   */
  restart(): void {
    this.position = undefined;
  }

  /**
   * The lease in flight found no message. @returns true when it started past the position: what
   * became due behind it (a retry due at once, given back within the second it first became
   * due) is found only from the head, so the next lease starts there and should follow at once.
   * Otherwise an idle worker woken by that message's own NOTIFY found nothing and slept until
   * its next poll. A lease that found some but fewer than it asked for is left to the periodic
   * head scan: following each one from the head cost a plain drain several per cent.
   */
  foundNone(): boolean {
    if (this.fromHead) return false;
    this.lastHeadScan = Number.NEGATIVE_INFINITY;
    return true;
  }

  /**
   * A lease reached `last`. A head scan that found stragglers (it ended behind the position)
   * does not move the start back, but the next lease starts from the head again, and so on until
   * none are left: there may be many (a reaper returning a crashed worker's leases), and one head
   * scan a second drained them at one batch a second.
   */
  reached(last: LeasePosition | undefined): void {
    if (last === undefined) return;
    if (this.position === undefined || isAfter(last, this.position)) {
      this.position = last;
    } else if (this.fromHead) {
      this.lastHeadScan = Number.NEGATIVE_INFINITY;
    }
  }
}

/** Whether `a` comes after `b` in lease order (due time, then seq). */
export function isAfter(a: LeasePosition, b: LeasePosition): boolean {
  const [aAt, bAt] = [BigInt(a.availableAt), BigInt(b.availableAt)];
  if (aAt !== bAt) return aAt > bAt;
  return BigInt(a.seq) > BigInt(b.seq);
}

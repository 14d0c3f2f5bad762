import { type LeasedMessage } from '../interfaces/queue-message.interface.js';

/** Past this many started messages, the array is compacted once they are most of it. */
const COMPACT_AFTER = 1_024;

interface Entry {
  readonly message: LeasedMessage;
  /** Its body's stored size, for the buffer's byte budget. */
  readonly bytes: number;
  /**
   * When its lease may have run out (`performance.now()` ms): the lease statement's or the last
   * successful heartbeat's send time plus the lease. Past it, the message may have been reaped
   * and leased by another worker, so it must not be started here.
   */
  deadline: number;
  /** When it arrived (`performance.now()` ms), for the lease-to-start metric; 0 without metrics. */
  readonly arrivedAt: number;
}

/**
 * Messages leased ahead of a free slot, oldest first, and the bytes of their bodies. Taking the
 * next one moves a head index instead of shifting the array, so a buffer of thousands costs O(1)
 * per message.
 */
export class PrefetchBuffer {
  private items: Entry[] = [];
  private head = 0;
  private bytesNow = 0;
  /** `arrivedAt` of the message {@link takeLive} returned last. */
  lastArrivedAt = 0;

  get size(): number {
    return this.items.length - this.head;
  }

  /** The stored size of the buffered bodies. */
  get bytes(): number {
    return this.bytesNow;
  }

  /**
   * Adds messages with their body sizes (`bodyBytes[i]` is `messages[i]`'s; 0 when missing) and
   * the time their leases may run out, and when they arrived (0 when nobody measures it).
   */
  push(
    messages: readonly LeasedMessage[],
    bodyBytes: readonly number[] = [],
    deadline = Number.POSITIVE_INFINITY,
    arrivedAt = 0,
  ): void {
    if (this.head > 0 && this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    }
    messages.forEach((message, index) => {
      const bytes = bodyBytes[index] ?? 0;
      this.items.push({ message, bytes, deadline, arrivedAt });
      this.bytesNow += bytes;
    });
  }

  /**
   * The next message to start: the oldest whose lease is alive at `now`, or undefined when none
   * is; those found lapsed on the way are taken out into `lapsed` (to be given back, not started).
   */
  takeLive(now: number, lapsed: LeasedMessage[]): LeasedMessage | undefined {
    for (;;) {
      const entry = this.takeEntry();
      if (entry === undefined) return undefined;
      if (entry.deadline >= now) {
        this.lastArrivedAt = entry.arrivedAt;
        return entry.message;
      }
      lapsed.push(entry.message);
    }
  }

  /** A heartbeat extended these leases (by token): they stay alive until `deadline`. */
  extend(tokens: ReadonlySet<string>, deadline: number): void {
    for (let index = this.head; index < this.items.length; index++) {
      const entry = this.items[index]!;
      if (tokens.has(entry.message.leaseToken)) entry.deadline = Math.max(entry.deadline, deadline);
    }
  }

  private takeEntry(): Entry | undefined {
    if (this.size === 0) return undefined;
    const entry = this.items[this.head]!;
    this.head += 1;
    this.bytesNow -= entry.bytes;
    if (this.head > COMPACT_AFTER && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return entry;
  }

  /** What is waiting, without taking it. */
  peekAll(): LeasedMessage[] {
    return this.items.slice(this.head).map((entry) => entry.message);
  }

  /** Empties the buffer and returns what it held. */
  takeAll(): LeasedMessage[] {
    const rest = this.peekAll();
    this.items = [];
    this.head = 0;
    this.bytesNow = 0;
    return rest;
  }

  /** Drops the messages whose lease token is in `tokens` (their leases were lost). */
  drop(tokens: ReadonlySet<string>): void {
    this.items = this.items
      .slice(this.head)
      .filter((entry) => !tokens.has(entry.message.leaseToken));
    this.head = 0;
    this.bytesNow = this.items.reduce((sum, entry) => sum + entry.bytes, 0);
  }
}

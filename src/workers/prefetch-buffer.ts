import { type LeasedMessage } from '../interfaces/queue-message.interface.js';

/** Past this many started messages, the array is compacted once they are most of it. */
const COMPACT_AFTER = 1_024;

/**
 * Messages leased ahead of a free slot, oldest first. Taking the next one moves a head index
 * instead of shifting the array, so a buffer of thousands costs O(1) per message.
 */
export class PrefetchBuffer {
  private items: LeasedMessage[] = [];
  private head = 0;

  get size(): number {
    return this.items.length - this.head;
  }

  push(messages: readonly LeasedMessage[]): void {
    if (this.head > 0 && this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    }
    for (const message of messages) this.items.push(message);
  }

  /** The next message to start, or undefined when empty. */
  take(): LeasedMessage | undefined {
    if (this.size === 0) return undefined;
    const message = this.items[this.head]!;
    this.head += 1;
    if (this.head > COMPACT_AFTER && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return message;
  }

  /** What is waiting, without taking it. */
  peekAll(): LeasedMessage[] {
    return this.items.slice(this.head);
  }

  /** Empties the buffer and returns what it held. */
  takeAll(): LeasedMessage[] {
    const rest = this.peekAll();
    this.items = [];
    this.head = 0;
    return rest;
  }

  /** Drops the messages whose lease token is in `tokens` (their leases were lost). */
  drop(tokens: ReadonlySet<string>): void {
    this.items = this.peekAll().filter((message) => !tokens.has(message.leaseToken));
    this.head = 0;
  }
}

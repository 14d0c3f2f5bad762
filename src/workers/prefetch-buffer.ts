import { type LeasedMessage } from '../interfaces/queue-message.interface.js';

/** Past this many started messages, the array is compacted once they are most of it. */
const COMPACT_AFTER = 1_024;

interface Entry {
  readonly message: LeasedMessage;
  /** Its body's stored size, for the buffer's byte budget. */
  readonly bytes: number;
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

  get size(): number {
    return this.items.length - this.head;
  }

  /** The stored size of the buffered bodies. */
  get bytes(): number {
    return this.bytesNow;
  }

  /** Adds messages with their body sizes (`bodyBytes[i]` is `messages[i]`'s; 0 when missing). */
  push(messages: readonly LeasedMessage[], bodyBytes: readonly number[] = []): void {
    if (this.head > 0 && this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    }
    messages.forEach((message, index) => {
      const bytes = bodyBytes[index] ?? 0;
      this.items.push({ message, bytes });
      this.bytesNow += bytes;
    });
  }

  /** The next message to start, or undefined when empty. */
  take(): LeasedMessage | undefined {
    if (this.size === 0) return undefined;
    const entry = this.items[this.head]!;
    this.head += 1;
    this.bytesNow -= entry.bytes;
    if (this.head > COMPACT_AFTER && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return entry.message;
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

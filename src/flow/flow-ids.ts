import { randomBytes } from 'node:crypto';

/** How many ids one flow may draw: the counter's 24 bits. */
const COUNTER_LIMIT = 1 << 24;

/**
 * `count` new message ids for one flow: UUIDv7 text, as the table's default draws them, so a
 * flow's rows sit beside other new rows in the primary key. They are drawn here rather than by
 * the table so that one statement can insert a child with its parent's id, without joining the
 * rows to each other. Within one flow they increase (RFC 9562's counter method: the last 24 bits
 * count, the 50 bits above them are random per flow), so a parent's id sorts before its
 * children's when they are drawn in tree order.
 */
export function flowIds(count: number, nowMs: number = Date.now()): string[] {
  if (count > COUNTER_LIMIT) throw new RangeError(`at most ${COUNTER_LIMIT} ids per flow`);
  const bytes = randomBytes(16);
  // 48 bits of Unix milliseconds, big-endian.
  bytes.writeUIntBE(Math.floor(nowMs), 0, 6);
  bytes[6] = 0x70 | (bytes[6]! & 0x0f); // version 7
  bytes[8] = 0x80 | (bytes[8]! & 0x3f); // variant 10
  const ids = new Array<string>(count);
  for (let index = 0; index < count; index++) {
    bytes.writeUIntBE(index, 13, 3);
    const hex = bytes.toString('hex');
    ids[index] =
      `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }
  return ids;
}

/*
 * The SQLite file format's record encoding (https://www.sqlite.org/fileformat2.html, "Record
 * Format"): pure functions over bytes, so every serial type is a unit test.
 */

/** Text whose bytes are not valid UTF-8: kept apart so one bad row never stops a whole read. */
export class InvalidText {
  constructor(readonly bytes: Uint8Array) {}
}

/**
 * One column value as stored: `null`, an integer (a `number` when it is safe, else a `bigint`),
 * a float, text, a blob, or text that did not decode.
 */
export type SqliteValue = null | number | bigint | string | Uint8Array | InvalidText;

/** A varint and the bytes it took. */
export interface Varint {
  readonly value: bigint;
  readonly length: number;
}

/**
 * Reads a varint at `offset`: 1 to 9 bytes, big-endian, 7 bits per byte while the high bit is
 * set; a ninth byte gives all its 8 bits. Answers `undefined` when the bytes end first.
 */
export function readVarint(bytes: Uint8Array, offset: number): Varint | undefined {
  let value = 0n;
  for (let index = 0; index < 9; index++) {
    const byte = bytes[offset + index];
    if (byte === undefined) return undefined;
    if (index === 8) return { value: (value << 8n) | BigInt(byte), length: 9 };
    value = (value << 7n) | BigInt(byte & 0x7f);
    if ((byte & 0x80) === 0) return { value, length: index + 1 };
  }
  return undefined;
}

/**
 * The fast path of `readVarint` for values that fit a JavaScript number (cell sizes, rowids of
 * ordinary tables, serial types): the common case, without BigInt arithmetic.
 */
export function readSmallVarint(bytes: Uint8Array, offset: number): Varint | undefined {
  let value = 0;
  for (let index = 0; index < 7; index++) {
    const byte = bytes[offset + index];
    if (byte === undefined) return undefined;
    value = value * 128 + (byte & 0x7f);
    if ((byte & 0x80) === 0) return { value: BigInt(value), length: index + 1 };
  }
  return readVarint(bytes, offset);
}

/** How many bytes a value of this serial type takes in the record's body. */
export function serialTypeSize(serialType: number): number {
  if (serialType >= 12) return Math.floor((serialType - 12) / 2);
  return SIZES[serialType] ?? 0;
}
const SIZES = [0, 1, 2, 3, 4, 6, 8, 8, 0, 0, 0, 0];

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Why a record could not be decoded: the file is damaged or not what its header says. */
export class RecordFormatProblem {
  constructor(readonly reason: string) {}
}

/**
 * Decodes a record (a row's payload): a header of serial types, then the values. Integers come
 * back as numbers when safe, else as bigints; text as strings (UTF-8), or `InvalidText`.
 */
export function decodeRecord(payload: Uint8Array): SqliteValue[] | RecordFormatProblem {
  const headerSize = readSmallVarint(payload, 0);
  if (headerSize === undefined) return new RecordFormatProblem('record header cut short');
  const headerEnd = Number(headerSize.value);
  if (headerEnd > payload.length || headerEnd < headerSize.length) {
    return new RecordFormatProblem(`record header size ${headerEnd} out of range`);
  }
  const types: number[] = [];
  let offset = headerSize.length;
  while (offset < headerEnd) {
    const type = readSmallVarint(payload, offset);
    if (type === undefined || type.value > BigInt(Number.MAX_SAFE_INTEGER)) {
      return new RecordFormatProblem('record serial type cut short');
    }
    types.push(Number(type.value));
    offset += type.length;
  }
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const values: SqliteValue[] = [];
  let body = headerEnd;
  for (const type of types) {
    const size = serialTypeSize(type);
    if (body + size > payload.length) {
      return new RecordFormatProblem('record value runs past the end of its payload');
    }
    if (type === 10 || type === 11) {
      return new RecordFormatProblem(`reserved serial type ${type}`);
    }
    values.push(decodeValue(type, payload, view, body, size));
    body += size;
  }
  return values;
}

function decodeValue(
  type: number,
  payload: Uint8Array,
  view: DataView,
  offset: number,
  size: number,
): SqliteValue {
  switch (type) {
    case 0:
      return null;
    case 1:
      return view.getInt8(offset);
    case 2:
      return view.getInt16(offset);
    case 3:
      // 24-bit two's complement: the high byte signed, the low two unsigned.
      return view.getInt8(offset) * 65_536 + view.getUint16(offset + 1);
    case 4:
      return view.getInt32(offset);
    case 5:
      // 48 bits: a signed high 16 and an unsigned low 32, exact within a double's 53 bits.
      return view.getInt16(offset) * 4_294_967_296 + view.getUint32(offset + 2);
    case 6: {
      const value = view.getBigInt64(offset);
      return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
        ? Number(value)
        : value;
    }
    case 7:
      return view.getFloat64(offset);
    case 8:
      return 0;
    case 9:
      return 1;
    default: {
      const bytes = payload.subarray(offset, offset + size);
      if (type % 2 === 0) return Uint8Array.from(bytes);
      try {
        return utf8.decode(bytes);
      } catch {
        return new InvalidText(Uint8Array.from(bytes));
      }
    }
  }
}

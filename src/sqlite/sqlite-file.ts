import { open, stat, type FileHandle } from 'node:fs/promises';
import { SqliteReadError } from '../errors/sqlite-read.error.js';
import { parseCreateTable, type SqliteColumn } from './create-table.js';
import {
  RecordFormatProblem,
  decodeRecord,
  readSmallVarint,
  readVarint,
  type SqliteValue,
} from './sqlite-record.js';

/** A table of the file, found in `sqlite_schema`. */
export interface SqliteTable {
  readonly name: string;
  readonly rootPage: number;
  /** In declaration order, which is the order of the values in each record. */
  readonly columns: readonly SqliteColumn[];
}

/** One row, in rowid order. `values` follow the table's columns; a damaged record says why. */
export interface SqliteRow {
  readonly rowid: bigint;
  readonly values: readonly SqliteValue[] | RecordFormatProblem;
}

const MAGIC = 'SQLite format 3\u0000';
const LEAF_TABLE = 0x0d;
const INTERIOR_TABLE = 0x05;
/** Deeper than any real table b-tree (a 4 KiB page fans out to hundreds): a loop in a damaged file. */
const MAX_DEPTH = 64;
const ENCODINGS = new Map([
  [2, 'UTF-16le'],
  [3, 'UTF-16be'],
]);

/**
 * A streaming reader of a SQLite 3 database file (https://www.sqlite.org/fileformat2.html), in
 * TypeScript without a native addon: it reads one page at a time through a file handle, so a
 * table of any size is walked in constant memory (a page per level of the b-tree, and one row's
 * payload). It reads rowid tables (interior 0x05 and leaf 0x0D pages, overflow chains, records),
 * which is all `sqlite_schema` and the Python backend's `messages` need, and refuses clearly what
 * it does not handle: a write-ahead log with content beside the file, a rollback journal left
 * by a crash, UTF-16 text, WITHOUT ROWID tables. It never writes.
 *
 * The file must not change while it is read: stop the program that writes it first.
 */
export class SqliteFile {
  private constructor(
    private readonly handle: FileHandle,
    /** The file as the caller named it, for messages. */
    readonly file: string,
    readonly pageSize: number,
    /** Page size less the bytes reserved at the end of each page (by an extension). */
    readonly usableSize: number,
    readonly pageCount: number,
  ) {}

  static async open(path: string): Promise<SqliteFile> {
    await refuseSideFile(
      path,
      '-wal',
      (size) =>
        `a write-ahead log with content (${size} bytes) is beside it: committed rows may be only in ${path}-wal. Stop the programs that use the database, then checkpoint it: python3 -c "import sqlite3; c = sqlite3.connect('${path}'); c.execute('PRAGMA wal_checkpoint(TRUNCATE)'); c.close()"`,
    );
    await refuseSideFile(
      path,
      '-journal',
      (size) =>
        `a rollback journal (${size} bytes) is beside it: a write was interrupted. Open the database once with sqlite3 (python3 -c "import sqlite3; sqlite3.connect('${path}').execute('SELECT 1')") to roll it back, then try again`,
    );
    let handle: FileHandle;
    try {
      handle = await open(path, 'r');
    } catch (error) {
      throw new SqliteReadError(path, describeFsError(error), { cause: error });
    }
    try {
      const header = Buffer.alloc(100);
      const { bytesRead } = await handle.read(header, 0, 100, 0);
      if (bytesRead < 100 || header.toString('latin1', 0, 16) !== MAGIC) {
        throw new SqliteReadError(path, 'not a SQLite 3 database (no "SQLite format 3" header)');
      }
      const rawPageSize = header.readUInt16BE(16);
      const pageSize = rawPageSize === 1 ? 65_536 : rawPageSize;
      if (pageSize < 512 || (pageSize & (pageSize - 1)) !== 0) {
        throw new SqliteReadError(path, `damaged header: page size ${rawPageSize}`);
      }
      const encoding = ENCODINGS.get(header.readUInt32BE(56));
      if (encoding !== undefined) {
        throw new SqliteReadError(
          path,
          `its text is ${encoding}, and only UTF-8 databases are read (the Python backend writes UTF-8). Convert it with the sqlite3 shell: .dump, then load the dump into a new database`,
        );
      }
      const { size } = await handle.stat();
      // The header's page count is valid only when its version stamp matches the change counter
      // (files written by SQLite before 3.7.0 did not keep it); else the file's size tells.
      const headerCount = header.readUInt32BE(28);
      const pageCount =
        headerCount > 0 && header.readUInt32BE(24) === header.readUInt32BE(92)
          ? headerCount
          : Math.floor(size / pageSize);
      if (pageCount * pageSize > size) {
        throw new SqliteReadError(
          path,
          `the file is cut short: its header counts ${pageCount} pages of ${pageSize} bytes, the file has ${size} bytes`,
        );
      }
      return new SqliteFile(handle, path, pageSize, pageSize - header.readUInt8(20), pageCount);
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  async close(): Promise<void> {
    await this.handle.close();
  }

  /** The table of that name (SQLite compares names ignoring ASCII case). */
  async table(name: string): Promise<SqliteTable> {
    for await (const row of this.rows(1)) {
      if (row.values instanceof RecordFormatProblem) throw this.damaged(row.values.reason);
      const [type, entryName, , rootPage, sql] = row.values;
      if (type !== 'table' || typeof entryName !== 'string') continue;
      if (entryName.toLowerCase() !== name.toLowerCase()) continue;
      const shape = typeof sql === 'string' ? parseCreateTable(sql) : undefined;
      if (shape === undefined || typeof rootPage !== 'number') {
        throw this.damaged(`the definition of table ${entryName} cannot be read`);
      }
      if (shape.withoutRowid) {
        throw new SqliteReadError(
          this.file,
          `table ${entryName} is WITHOUT ROWID, which this reader does not read; copy it into a rowid table first (CREATE TABLE copy AS SELECT * FROM ${entryName})`,
        );
      }
      return { name: entryName, rootPage, columns: shape.columns };
    }
    throw new SqliteReadError(this.file, `it has no table named ${name}`);
  }

  /**
   * Every row of a table, in rowid order, with one value per column: an `INTEGER PRIMARY KEY`
   * column (stored as NULL) takes the rowid, and columns a row predates (added by ALTER TABLE
   * after it was written) are NULL. Their declared DEFAULT is not applied: the Python backend's
   * table was never altered.
   */
  async *tableRows(table: SqliteTable): AsyncGenerator<SqliteRow> {
    const alias = table.columns.findIndex((column) => column.rowidAlias);
    const width = table.columns.length;
    for await (const row of this.rows(table.rootPage)) {
      const { values } = row;
      if (values instanceof RecordFormatProblem || (alias < 0 && values.length >= width)) {
        yield row;
        continue;
      }
      const filled: SqliteValue[] = [...values];
      while (filled.length < width) filled.push(null);
      if (alias >= 0 && filled[alias] === null) {
        filled[alias] =
          row.rowid >= BigInt(Number.MIN_SAFE_INTEGER) &&
          row.rowid <= BigInt(Number.MAX_SAFE_INTEGER)
            ? Number(row.rowid)
            : row.rowid;
      }
      yield { rowid: row.rowid, values: filled };
    }
  }

  /** Every row of the b-tree rooted at `rootPage`, in rowid order, as its records hold them. */
  async *rows(rootPage: number): AsyncGenerator<SqliteRow> {
    // Depth-first, one page per level: each frame is an interior page and its next cell.
    const stack: { page: Buffer; header: number; next: number; cells: number }[] = [];
    let pageNumber: number | undefined = rootPage;
    while (true) {
      if (pageNumber !== undefined) {
        if (stack.length >= MAX_DEPTH) throw this.damaged('its b-tree is deeper than possible');
        const page = await this.readPage(pageNumber);
        const header = pageNumber === 1 ? 100 : 0;
        const type = page[header];
        const cells = page.readUInt16BE(header + 3);
        if (type === LEAF_TABLE) {
          for (let cell = 0; cell < cells; cell++) {
            yield await this.leafRow(page, page.readUInt16BE(header + 8 + cell * 2));
          }
          pageNumber = undefined;
        } else if (type === INTERIOR_TABLE) {
          stack.push({ page, header, next: 0, cells });
          pageNumber = undefined;
        } else {
          throw this.damaged(`page ${pageNumber} is not a table b-tree page (type ${type})`);
        }
      }
      const frame = stack.at(-1);
      if (frame === undefined) return;
      if (frame.next < frame.cells) {
        const pointer = frame.page.readUInt16BE(frame.header + 12 + frame.next * 2);
        pageNumber = frame.page.readUInt32BE(pointer);
      } else if (frame.next === frame.cells) {
        pageNumber = frame.page.readUInt32BE(frame.header + 8);
      } else {
        stack.pop();
        continue;
      }
      frame.next++;
    }
  }

  /**
   * How many rows the table has: the cell counts of its leaf pages, read from their headers
   * alone (8 bytes a page), for a progress bar's total before the rows are read.
   */
  async countRows(rootPage: number): Promise<number> {
    let count = 0;
    const visit = async (pageNumber: number, depth: number): Promise<void> => {
      if (depth >= MAX_DEPTH) throw this.damaged('its b-tree is deeper than possible');
      const header = pageNumber === 1 ? 100 : 0;
      // The type byte and the cell count, in one read.
      const start = await this.readBytes(pageNumber, header, 5);
      const type = start[0];
      if (type === LEAF_TABLE) {
        count += start.readUInt16BE(3);
        return;
      }
      if (type !== INTERIOR_TABLE) {
        throw this.damaged(`page ${pageNumber} is not a table b-tree page (type ${type})`);
      }
      const page = await this.readPage(pageNumber);
      const cells = page.readUInt16BE(header + 3);
      for (let cell = 0; cell < cells; cell++) {
        await visit(page.readUInt32BE(page.readUInt16BE(header + 12 + cell * 2)), depth + 1);
      }
      await visit(page.readUInt32BE(header + 8), depth + 1);
    };
    await visit(rootPage, 0);
    return count;
  }

  /** A table leaf cell: payload size, rowid, the payload's local part, then its overflow chain. */
  private async leafRow(page: Buffer, offset: number): Promise<SqliteRow> {
    const size = readSmallVarint(page, offset);
    const rowid = size === undefined ? undefined : readVarint(page, offset + size.length);
    if (size === undefined || rowid === undefined) throw this.damaged('a cell is cut short');
    const payloadSize = Number(size.value);
    const start = offset + size.length + rowid.length;
    const local = this.localPayloadSize(payloadSize);
    if (start + local > page.length) throw this.damaged('a cell runs past its page');
    if (local === payloadSize) {
      return { rowid: rowid.value, values: decodeRecord(page.subarray(start, start + local)) };
    }
    const payload = Buffer.allocUnsafe(payloadSize);
    page.copy(payload, 0, start, start + local);
    let filled = local;
    let next = page.readUInt32BE(start + local);
    let hops = 0;
    while (filled < payloadSize) {
      if (next === 0 || ++hops > this.pageCount) {
        throw this.damaged(`row ${rowid.value}'s overflow chain ends early or loops`);
      }
      const overflow = await this.readPage(next);
      const take = Math.min(this.usableSize - 4, payloadSize - filled);
      overflow.copy(payload, filled, 4, 4 + take);
      filled += take;
      next = overflow.readUInt32BE(0);
    }
    return { rowid: rowid.value, values: decodeRecord(payload) };
  }

  /** How much of a payload a table leaf page holds itself; the rest goes to overflow pages. */
  private localPayloadSize(payloadSize: number): number {
    const usable = this.usableSize;
    const maxLocal = usable - 35;
    if (payloadSize <= maxLocal) return payloadSize;
    const minLocal = Math.floor(((usable - 12) * 32) / 255) - 23;
    const local = minLocal + ((payloadSize - minLocal) % (usable - 4));
    return local <= maxLocal ? local : minLocal;
  }

  private async readPage(pageNumber: number): Promise<Buffer> {
    return this.readBytes(pageNumber, 0, this.pageSize);
  }

  private async readBytes(pageNumber: number, offset: number, length: number): Promise<Buffer> {
    if (!Number.isInteger(pageNumber) || pageNumber < 1 || pageNumber > this.pageCount) {
      throw this.damaged(`a pointer to page ${pageNumber}, past its ${this.pageCount} pages`);
    }
    const buffer = Buffer.allocUnsafe(length);
    const position = (pageNumber - 1) * this.pageSize + offset;
    const { bytesRead } = await this.handle.read(buffer, 0, length, position);
    if (bytesRead < length) throw this.damaged(`page ${pageNumber} is cut short`);
    return buffer;
  }

  private damaged(reason: string): SqliteReadError {
    return new SqliteReadError(this.file, `the file is damaged: ${reason}`);
  }
}

async function refuseSideFile(
  path: string,
  suffix: string,
  reason: (size: number) => string,
): Promise<void> {
  try {
    const { size } = await stat(`${path}${suffix}`);
    if (size > 0) throw new SqliteReadError(path, reason(size));
  } catch (error) {
    if (error instanceof SqliteReadError) throw error;
    // Absent (the usual case once the last connection closed): nothing to refuse.
  }
}

function describeFsError(error: unknown): string {
  const { code } = error as { code?: unknown };
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES') return 'permission denied';
  if (code === 'EISDIR') return 'it is a directory';
  return error instanceof Error ? error.message : String(error);
}

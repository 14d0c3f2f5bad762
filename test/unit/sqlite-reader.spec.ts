import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { parseCreateTable } from '../../src/sqlite/create-table.js';
import { SqliteFile, type SqliteRow } from '../../src/sqlite/sqlite-file.js';
import {
  InvalidText,
  RecordFormatProblem,
  decodeRecord,
  readVarint,
  type SqliteValue,
} from '../../src/sqlite/sqlite-record.js';
import { pythonJson, tempDir, writeSqlite } from '../support/sqlite-files.js';

const { dir, remove } = tempDir('sqlite-reader');
afterAll(remove);

/** A value as Python reports it: its storage class and an exact text. */
type Tagged = readonly [string, string?];

const PYTHON_TAGGED = `
def tag(v):
    if v is None: return ['null']
    if isinstance(v, int): return ['int', str(v)]
    if isinstance(v, float): return ['real', repr(v)]
    if isinstance(v, bytes): return ['blob', v.hex()]
    return ['text', v]
rows = c.execute('SELECT rowid, * FROM %s ORDER BY rowid' % sys.argv[2] if len(sys.argv) > 2 else 'SELECT rowid, * FROM messages ORDER BY rowid').fetchall()
print(json.dumps([[tag(v) for v in r] for r in rows]))
`;

function tag(value: SqliteValue | bigint): Tagged {
  if (value === null) return ['null'];
  if (typeof value === 'bigint') return ['int', value.toString()];
  if (typeof value === 'number') {
    return Number.isInteger(value) ? ['int', String(value)] : ['real', String(value)];
  }
  if (typeof value === 'string') return ['text', value];
  if (value instanceof InvalidText) return ['invalid'];
  return ['blob', Buffer.from(value).toString('hex')];
}

async function readAll(path: string, table = 'messages'): Promise<Tagged[][]> {
  const file = await SqliteFile.open(path);
  try {
    const shape = await file.table(table);
    const rows: Tagged[][] = [];
    for await (const row of file.tableRows(shape)) rows.push(tagged(row));
    return rows;
  } finally {
    await file.close();
  }
}

function tagged(row: SqliteRow): Tagged[] {
  if (row.values instanceof RecordFormatProblem) throw new Error(row.values.reason);
  return [tag(row.rowid), ...row.values.map(tag)];
}

/** The type byte of a page and, for an interior page, its first child's. */
async function pageTypes(path: string, page: number, pageSize: number): Promise<number[]> {
  const handle = await open(path, 'r');
  try {
    const buffer = Buffer.alloc(pageSize);
    await handle.read(buffer, 0, pageSize, (page - 1) * pageSize);
    const type = buffer[0]!;
    if (type !== 0x05) return [type];
    const child = buffer.readUInt32BE(buffer.readUInt16BE(12));
    return [type, ...(await pageTypes(path, child, pageSize))];
  } finally {
    await handle.close();
  }
}

describe('SqliteFile on files written by Python', () => {
  it('reads a three-level table with overflow bodies exactly as Python reads it', async () => {
    const path = join(dir, 'deep.db');
    const rows = Array.from({ length: 3_000 }, (_, i) => [
      `id-${i}`,
      i % 3 === 0 ? 'ingest.main' : 'ingest.deferred',
      JSON.stringify({ i, text: 'é😀x'.repeat((i * 37) % 1_000) }),
      1_700_000_000 + i,
      i % 4 === 0 ? null : 1_700_000_100 + i,
      i % 5,
      ['ready', 'leased', 'done'][i % 3],
    ]);
    writeSqlite(path, { pragmas: ['PRAGMA page_size=1024'], rows });
    const file = await SqliteFile.open(path);
    const shape = await file.table('messages');
    expect(file.pageSize).toBe(1024);
    expect(await file.countRows(shape.rootPage)).toBe(3_000);
    await file.close();
    // Root and its first child are interior pages: at least three levels.
    expect((await pageTypes(path, shape.rootPage, 1024)).slice(0, 3)).toEqual([0x05, 0x05, 0x0d]);

    const expected = pythonJson<Tagged[][]>(path, PYTHON_TAGGED);
    const actual = await readAll(path);
    expect(actual.length).toBe(3_000);
    expect(actual).toEqual(expected);
  });

  it('decodes integers of every width, floats, NULL, text, blobs and a rowid alias', async () => {
    const path = join(dir, 'values.db');
    const ints = [
      0, 1, 2, -1, 127, -128, 128, 32_767, -32_768, 32_768, 8_388_607, -8_388_608, 8_388_608,
      2_147_483_647, -2_147_483_648, 2_147_483_648, 140_737_488_355_327, -140_737_488_355_328,
      140_737_488_355_328, 9_007_199_254_740_991,
    ];
    const literals = [
      ...ints.map(String),
      '9007199254740993',
      '9223372036854775807',
      '-9223372036854775808',
      '0.5',
      '-1.5e-300',
      '3.141592653589793',
      'NULL',
      "''",
      "'héllo 👋'",
      "x'00ff10'",
      "x''",
    ];
    writeSqlite(path, {
      schema: 'CREATE TABLE vals (k INTEGER PRIMARY KEY, v, "odd ""name""" TEXT)',
      sql: literals.map(
        (literal, i) => `INSERT INTO vals VALUES (${i * 1000 + 7}, ${literal}, 'x')`,
      ),
    });
    const expected = pythonJson<Tagged[][]>(path, PYTHON_TAGGED.replace(/messages/g, 'vals'));
    const actual = await readAll(path, 'VALS');
    expect(actual).toEqual(expected);
    expect(actual[0]).toEqual([
      ['int', '7'],
      ['int', '7'],
      ['int', '0'],
      ['text', 'x'],
    ]);
  });

  it('gives NULL for a column added after a row was written', async () => {
    const path = join(dir, 'altered.db');
    writeSqlite(path, {
      schema: 'CREATE TABLE t (a TEXT)',
      sql: [
        "INSERT INTO t VALUES ('old')",
        'ALTER TABLE t ADD COLUMN b INTEGER',
        "INSERT INTO t VALUES ('new', 5)",
      ],
    });
    const expected = pythonJson<Tagged[][]>(path, PYTHON_TAGGED.replace(/messages/g, 't'));
    expect(await readAll(path, 't')).toEqual(expected);
    expect(expected[0]).toEqual([['int', '1'], ['text', 'old'], ['null']]);
  });

  it('keeps text that is not UTF-8 apart, for the caller to report', async () => {
    const path = join(dir, 'bad-text.db');
    writeSqlite(path, {
      sql: ["INSERT INTO messages VALUES ('a', 'q', CAST(x'7bff7d' AS TEXT), 1, NULL, 0, 'ready')"],
    });
    const [row] = await readAll(path);
    expect(row?.[3]).toEqual(['invalid']);
  });

  it('refuses a write-ahead log with content, telling how to checkpoint', async () => {
    const path = join(dir, 'wal.db');
    writeSqlite(path, {
      pragmas: ['PRAGMA journal_mode=WAL', 'PRAGMA wal_autocheckpoint=0'],
      rows: [['a', 'q', '{}', 1, null, 0, 'ready']],
      exitWithoutClosing: true,
    });
    await expect(SqliteFile.open(path)).rejects.toThrow(
      /write-ahead log with content .*PRAGMA wal_checkpoint\(TRUNCATE\)/,
    );
    pythonJson(path, "c.execute('PRAGMA wal_checkpoint(TRUNCATE)'); print(1)");
    expect(await readAll(path)).toHaveLength(1);
  });

  it.each([
    [
      'a WITHOUT ROWID table',
      'CREATE TABLE messages (id TEXT PRIMARY KEY, body TEXT) WITHOUT ROWID',
      [],
      /WITHOUT ROWID/,
    ],
    ['UTF-16 text', undefined, ["PRAGMA encoding='UTF-16le'"], /UTF-16le, and only UTF-8/],
  ])('refuses %s', async (_, schema, pragmas, message) => {
    const path = join(dir, `refuse-${pragmas.length}.db`);
    writeSqlite(path, { ...(schema === undefined ? {} : { schema }), pragmas });
    await expect(readAll(path)).rejects.toThrow(message);
  });

  it('names what is wrong with a file that is not a database, missing, or without the table', async () => {
    const notSqlite = join(dir, 'plain.txt');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(notSqlite, 'x'.repeat(200));
    await expect(SqliteFile.open(notSqlite)).rejects.toThrow(
      `Cannot read ${notSqlite}: not a SQLite 3 database`,
    );
    await expect(SqliteFile.open(join(dir, 'missing.db'))).rejects.toThrow(
      `Cannot read ${join(dir, 'missing.db')}: no such file`,
    );
    const other = join(dir, 'other.db');
    writeSqlite(other, { schema: 'CREATE TABLE jobs (id TEXT)' });
    await expect(readAll(other)).rejects.toThrow('it has no table named messages');
  });
});

describe('parseCreateTable', () => {
  it('lists the columns in order, unquoted, past constraints, comments and nested parentheses', () => {
    expect(
      parseCreateTable(`CREATE TABLE "m" (
        id TEXT PRIMARY KEY, -- the id, (with a comma)
        [queue] TEXT NOT NULL CHECK (queue <> ''),
        \`body\` TEXT DEFAULT ('{}'),
        "a ""b""" NUMERIC(10, 2),
        n INTEGER PRIMARY KEY,
        CONSTRAINT c UNIQUE (queue, body),
        FOREIGN KEY (id) REFERENCES x(id)
      ) STRICT`),
    ).toEqual({
      columns: [
        { name: 'id', rowidAlias: false },
        { name: 'queue', rowidAlias: false },
        { name: 'body', rowidAlias: false },
        { name: 'a "b"', rowidAlias: false },
        { name: 'n', rowidAlias: true },
      ],
      withoutRowid: false,
    });
    expect(parseCreateTable('CREATE TABLE t (a, b) WITHOUT ROWID')?.withoutRowid).toBe(true);
    expect(parseCreateTable('CREATE TABLE t AS SELECT 1')).toBeUndefined();
  });
});

describe('record decoding', () => {
  it('reads varints of one to nine bytes', () => {
    expect(readVarint(Uint8Array.of(0x7f), 0)).toEqual({ value: 127n, length: 1 });
    expect(readVarint(Uint8Array.of(0x81, 0x00), 0)).toEqual({ value: 128n, length: 2 });
    expect(readVarint(Uint8Array.of(...Array<number>(8).fill(0xff), 0xff), 0)).toEqual({
      value: 2n ** 64n - 1n,
      length: 9,
    });
    expect(readVarint(Uint8Array.of(0x81), 0)).toBeUndefined();
  });

  it('reports a record whose values run past its payload instead of reading beyond it', () => {
    // Header of 2 bytes: one 4-byte integer, but only 2 bytes follow.
    expect(decodeRecord(Uint8Array.of(2, 4, 0, 1))).toBeInstanceOf(RecordFormatProblem);
    expect(decodeRecord(Uint8Array.of(3, 1, 9, 0xff))).toEqual([-1, 1]);
  });
});

/** One column of a CREATE TABLE statement, as the reader needs it. */
export interface SqliteColumn {
  /** The name, unquoted. */
  readonly name: string;
  /** Declared `INTEGER PRIMARY KEY`: an alias of the rowid, stored as NULL in the record. */
  readonly rowidAlias: boolean;
}

/** What the reader needs of a table's definition. */
export interface SqliteTableShape {
  readonly columns: readonly SqliteColumn[];
  /** `WITHOUT ROWID`: stored as an index b-tree, which the reader does not walk. */
  readonly withoutRowid: boolean;
}

const TABLE_CONSTRAINT = /^(constraint|primary|unique|check|foreign)\b/i;

/**
 * The columns of a `CREATE TABLE` statement as `sqlite_schema.sql` keeps it, in declaration
 * order, which is the order of the values in each record. Pure; enough of SQLite's grammar to
 * split the definitions at top-level commas (quotes, brackets and parentheses respected) and
 * unquote a name. Answers `undefined` for a statement it cannot read.
 */
export function parseCreateTable(sql: string): SqliteTableShape | undefined {
  const open = sql.indexOf('(');
  if (open < 0) return undefined;
  const parts: string[] = [];
  let depth = 0;
  let start = open + 1;
  let close = -1;
  for (let index = open + 1; index < sql.length && close < 0; index++) {
    const char = sql[index]!;
    if (char === "'" || char === '"' || char === '`' || char === '[') {
      const end = sql.indexOf(char === '[' ? ']' : char, index + 1);
      if (end < 0) return undefined;
      index = end;
    } else if (char === '-' && sql[index + 1] === '-') {
      const end = sql.indexOf('\n', index);
      index = end < 0 ? sql.length : end;
    } else if (char === '(') {
      depth++;
    } else if (char === ')') {
      if (depth === 0) {
        parts.push(sql.slice(start, index));
        close = index;
      } else depth--;
    } else if (char === ',' && depth === 0) {
      parts.push(sql.slice(start, index));
      start = index + 1;
    }
  }
  if (close < 0) return undefined;
  const columns: SqliteColumn[] = [];
  for (const raw of parts) {
    const part = raw.replace(/--[^\n]*/g, ' ').trim();
    if (part === '' || TABLE_CONSTRAINT.test(part)) continue;
    const named = unquoteLeadingName(part);
    if (named === undefined) return undefined;
    const rest = named.rest.replace(/\s+/g, ' ').trim();
    columns.push({ name: named.name, rowidAlias: /^integer primary key\b/i.test(rest) });
  }
  const tail = sql.slice(close + 1);
  return { columns, withoutRowid: /\bwithout\s+rowid\b/i.test(tail) };
}

function unquoteLeadingName(part: string): { name: string; rest: string } | undefined {
  const first = part[0]!;
  const closing =
    first === '[' ? ']' : first === '"' || first === '`' || first === "'" ? first : '';
  if (closing === '') {
    const match = /^[^\s(]+/.exec(part);
    return match === null ? undefined : { name: match[0], rest: part.slice(match[0].length) };
  }
  let name = '';
  for (let index = 1; index < part.length; index++) {
    const char = part[index]!;
    if (char === closing) {
      // A doubled quote inside a quoted name stands for one.
      if (closing !== ']' && part[index + 1] === closing) {
        name += char;
        index++;
        continue;
      }
      return { name, rest: part.slice(index + 1) };
    }
    name += char;
  }
  return undefined;
}

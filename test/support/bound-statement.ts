import { expect } from '@jest/globals';
import { type SqlStatement } from '../../src/sql/sql-statement.js';

/**
 * The rule every SQL builder keeps: `hostile` input appears nowhere in the text, the text names
 * the table it should (`table`), and every value is a parameter, each with an explicit cast so
 * the server never guesses a type.
 */
export function expectBoundStatement(
  statement: SqlStatement,
  hostile: string,
  table: RegExp,
): void {
  expect(statement.text).not.toContain(hostile);
  expect(statement.text).toMatch(table);
  const placeholders = new Set(statement.text.match(/\$\d+/g) ?? []);
  expect(placeholders.size).toBe(statement.values.length);
  for (const placeholder of placeholders) {
    expect(statement.text).toMatch(new RegExp(`\\${placeholder}::[a-z]+`));
  }
}

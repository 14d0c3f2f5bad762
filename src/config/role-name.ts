/*
 * The rule of a database role name that goes into a GRANT statement. A role cannot be a bound
 * parameter there, so it is checked and quoted instead.
 */

/** Letters, digits and the characters managed services put in role names (`_`, `$`, `-`, `.`, `@`). */
const ROLE_NAME = /^[A-Za-z_][A-Za-z0-9_$.@-]*$/;

/** Postgres' identifier limit, in bytes; longer names are truncated silently, to another role. */
const MAX_ROLE_NAME_BYTES = 63;

/**
 * What is wrong with `role` as the grantee of the queue's grants, or undefined when it is
 * usable. `public` and `none` are refused even quoted (the server reads `"public"` as PUBLIC:
 * every role), and so are the reserved `pg_` roles.
 */
export function roleNameViolation(role: unknown): string | undefined {
  if (typeof role !== 'string' || role.length === 0) return 'must be a non-empty string';
  if (Buffer.byteLength(role, 'utf8') > MAX_ROLE_NAME_BYTES) {
    return `must be at most ${MAX_ROLE_NAME_BYTES} bytes`;
  }
  if (!ROLE_NAME.test(role)) {
    return 'must start with a letter or underscore and contain only letters, digits and _ $ - . @';
  }
  if (role === 'public' || role === 'none') return `must name a role, not ${role}`;
  if (role.startsWith('pg_')) return 'must not be a reserved pg_ role';
  return undefined;
}

/**
 * `role` double-quoted for SQL, any quote in it doubled: for a name the rule above admitted, or
 * one the server gave (`current_user`).
 */
export function quoteRoleName(role: string): string {
  return `"${role.replaceAll('"', '""')}"`;
}

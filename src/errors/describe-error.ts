/** An error's message for a log line or a health report, whatever was thrown. */
export function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Longest handler error a log line quotes; `lastError` keeps the full text. */
const MAX_FAILURE_TEXT = 500;

/**
 * A handler's failure for a log line: `Name: message`, on one line and bounded. A handler's error
 * may quote a connection URL (a driver's "could not connect to postgres://app:pw@db"); its
 * password is masked, as the package's own errors never carry one.
 */
export function describeFailure(error: unknown): string {
  const name = error instanceof Error ? error.name : error === null ? 'null' : typeof error;
  let message: string;
  try {
    message = describeError(error);
  } catch {
    message = Object.prototype.toString.call(error);
  }
  const line = maskUrlPasswords(`${name}: ${message}`).replace(/\s+/g, ' ').trim();
  return line.length > MAX_FAILURE_TEXT ? `${line.slice(0, MAX_FAILURE_TEXT)}…` : line;
}

/**
 * Passwords in free text masked, wherever a handler's or driver's error quotes them: a URL's
 * `scheme://user:secret@host` becomes `scheme://user:***@host` (the password runs to the last `@`
 * of the token, as it may hold an unencoded `@` or `/`), and a `password=` (or `sslpassword=`)
 * value, in a URL's query or libpq's keyword form, quoted or not, becomes `***`. Over-masking a
 * token that only looks like one is the safe side.
 */
export function maskUrlPasswords(text: string): string {
  return text
    .replace(/\b([a-z][a-z0-9+.-]*:\/\/[^\s/:@]*:)\S+@/gi, '$1***@')
    .replace(/\b((?:ssl)?password\s*=\s*)('(?:[^'\\]|\\.)*'?|[^\s&#]*)/gi, '$1***');
}

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
 * `scheme://user:secret@host` becomes `scheme://user:***@host` wherever it appears in `text`; the
 * password runs to the last `@` of the authority, as it may hold an unencoded `@` itself.
 */
export function maskUrlPasswords(text: string): string {
  return text.replace(/\b([a-z][a-z0-9+.-]*:\/\/[^\s/:@]*:)[^\s/]+@/gi, '$1***@');
}

/**
 * Polls `read` until it returns `expected` or `timeoutMs` passes, then returns the last value.
 * For server-side effects that trail the client's view (a backend leaving pg_stat_activity).
 */
export async function eventually<T>(
  read: () => Promise<T>,
  expected: T,
  timeoutMs = 3_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let value = await read();
  while (value !== expected && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 25));
    value = await read();
  }
  return value;
}

/**
 * A notification on the table's control channel: a queue paused or resumed for every replica, a
 * message asked to cancel, or a schedule added, changed or removed. Sent by `control.sql.ts` as
 * `{"pause": queue}`, `{"resume": queue}` or `{"cancel": id}`, and by `schedules.sql.ts` as
 * `{"schedules": name}`.
 */
export type ControlMessage =
  | { readonly kind: 'pause'; readonly queue: string }
  | { readonly kind: 'resume'; readonly queue: string }
  | { readonly kind: 'cancel'; readonly id: string }
  | { readonly kind: 'schedules'; readonly name: string };

/**
 * The control message a payload carries, or undefined for anything else: the channel is open to
 * any session's NOTIFY, so a payload is never trusted to be well formed.
 */
export function parseControlMessage(payload: string): ControlMessage | undefined {
  let value: unknown;
  try {
    value = JSON.parse(payload);
  } catch {
    return undefined;
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const entries: Array<[string, unknown]> = Object.entries(value);
  if (entries.length !== 1) return undefined;
  const [key, argument] = entries[0]!;
  if (typeof argument !== 'string' || argument.length === 0) return undefined;
  switch (key) {
    case 'pause':
    case 'resume':
      return { kind: key, queue: argument };
    case 'cancel':
      return { kind: 'cancel', id: argument };
    case 'schedules':
      return { kind: 'schedules', name: argument };
    default:
      return undefined;
  }
}

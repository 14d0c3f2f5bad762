/** What the queue page's search box asks for. */
export type MessageSearch =
  | { readonly kind: 'id'; readonly id: string }
  | { readonly kind: 'body'; readonly json: string }
  | { readonly kind: 'invalid'; readonly reason: string };

const MAX_SEARCH = 2000;

/**
 * The search as typed: a JSON object (`{"customer":"acme"}`, matched with `body @> …`), a
 * `field=value` (`customer.id=42`: a dotted path, the value read as JSON when it is JSON, as a
 * string otherwise), or else a message id. Undefined when empty.
 */
export function parseMessageSearch(input: string | undefined): MessageSearch | undefined {
  const text = (input ?? '').trim();
  if (text === '') return undefined;
  if (text.length > MAX_SEARCH) {
    return { kind: 'invalid', reason: `A search is at most ${MAX_SEARCH} characters.` };
  }
  if (text.startsWith('{')) {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      return { kind: 'invalid', reason: `Not JSON: ${(error as Error).message}` };
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      return {
        kind: 'invalid',
        reason: 'A JSON search must be an object, e.g. {"customer":"acme"}.',
      };
    }
    return { kind: 'body', json: JSON.stringify(value) };
  }
  const equals = text.indexOf('=');
  if (equals > 0) {
    const path = text.slice(0, equals).trim().split('.');
    if (path.some((segment) => segment === '')) {
      return {
        kind: 'invalid',
        reason: 'A field is a name or a dotted path, e.g. customer.id=42.',
      };
    }
    const raw = text.slice(equals + 1).trim();
    let value: unknown = raw;
    try {
      value = JSON.parse(raw);
    } catch {
      // Not JSON: the value is the string as typed.
    }
    const nested = path.reduceRight<unknown>((inner, segment) => ({ [segment]: inner }), value);
    return { kind: 'body', json: JSON.stringify(nested) };
  }
  return { kind: 'id', id: text };
}

import { QueueValidationError } from '../errors/queue-validation.error.js';

/**
 * Deepest nesting of objects and arrays a body may have. Real documents stay far below it; a
 * pathological body (10,000 levels) is refused here instead of exhausting a stack in Node or
 * Postgres.
 */
export const MAX_BODY_DEPTH = 256;

interface Parent {
  readonly holder: object;
  readonly key: string;
}

/**
 * Serialises a message body to JSON text, refusing anything that would not come back unchanged
 * from a JSONB column: `undefined` (except as an absent object property), functions, symbols,
 * BigInt, Map and Set, NaN and ±Infinity, cycles, strings (values or keys) with `\u0000` (JSONB
 * rejects it) or lone surrogates, nesting beyond {@link MAX_BODY_DEPTH}, and bodies over
 * `maxBytes` of UTF-8. Errors name the JSON path of the offending value.
 *
 * Objects with `toJSON` (Date, class instances) are serialised the way JSON.stringify does.
 */
export function serializeBody(body: unknown, field: string, maxBytes: number): string {
  const parents = new WeakMap<object, Parent>();
  const depths = new WeakMap<object, number>();

  const pathOf = (holder: object, key: string): string => {
    const segments: string[] = [];
    let current: object | undefined = holder;
    let currentKey = key;
    while (current !== undefined) {
      const parent = parents.get(current);
      if (parent === undefined) break; // the root wrapper: its key is the body itself
      segments.push(Array.isArray(current) ? `[${currentKey}]` : formatProperty(currentKey));
      currentKey = parent.key;
      current = parent.holder;
    }
    return field + segments.reverse().join('');
  };

  const fail = (holder: object, key: string, rule: string): never => {
    throw new QueueValidationError(pathOf(holder, key), rule);
  };

  function replacer(this: unknown, key: string, value: unknown): unknown {
    const holder = this as object;
    const inArray = Array.isArray(holder);
    if (!inArray) checkString(key, (rule) => fail(holder, key, rule), true);
    switch (typeof value) {
      case 'string':
        checkString(value, (rule) => fail(holder, key, rule), false);
        return value;
      case 'number':
        if (!Number.isFinite(value)) fail(holder, key, `must be a finite number (got ${value})`);
        return value;
      case 'boolean':
        return value;
      case 'undefined':
        // An undefined property is simply absent in JSON, and reads back as undefined: no loss.
        // In an array or as the whole body it would silently become null or vanish.
        if (inArray || parents.get(holder) === undefined) {
          fail(holder, key, 'must be JSON data, not undefined (use null)');
        }
        return value;
      case 'object': {
        if (value === null) return value;
        if (value instanceof Map || value instanceof Set) {
          fail(holder, key, 'must be JSON data; a Map or Set serialises to {} (convert it first)');
        }
        const depth = (depths.get(holder) ?? 0) + 1;
        if (depth > MAX_BODY_DEPTH) {
          fail(
            holder,
            key,
            `must not nest objects and arrays deeper than ${MAX_BODY_DEPTH} levels`,
          );
        }
        depths.set(value, depth);
        parents.set(value, { holder, key });
        return value;
      }
      default:
        return fail(holder, key, `must be JSON data, not a ${typeof value}`);
    }
  }

  let json: string | undefined;
  try {
    json = JSON.stringify(body, replacer);
  } catch (error) {
    if (error instanceof QueueValidationError) throw error;
    if (error instanceof TypeError && /circular/i.test(error.message)) {
      throw new QueueValidationError(field, 'must not contain circular references');
    }
    throw error;
  }
  if (json === undefined) {
    throw new QueueValidationError(field, 'must be JSON data');
  }
  // Cheap bound first: a UTF-8 byte is at least one and at most three per UTF-16 code unit.
  if (json.length * 3 > maxBytes) {
    const bytes = Buffer.byteLength(json, 'utf8');
    if (bytes > maxBytes) {
      throw new QueueValidationError(
        field,
        `must be at most ${maxBytes} bytes as JSON (got ${bytes})`,
      );
    }
  }
  return json;
}

function checkString(value: string, fail: (rule: string) => never, isKey: boolean): void {
  const what = isKey ? 'key' : 'string';
  if (value.includes('\u0000')) {
    fail(`must not contain a ${what} with \\u0000 (JSONB cannot store it)`);
  }
  if (!value.isWellFormed()) {
    fail(`must not contain a ${what} with lone surrogates (not valid Unicode)`);
  }
}

function formatProperty(key: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
}

import { MAX_BODY_DEPTH } from '../config/limits.js';
import { QueueValidationError } from '../errors/queue-validation.error.js';

type Container = 'root' | 'array' | 'object';

/**
 * Serialises a message body to JSON text, refusing anything that would not come back unchanged
 * from a JSONB column: `undefined` (except as an absent object property), functions, symbols,
 * BigInt, Map and Set, NaN and ±Infinity, cycles, strings (values or keys) with `\u0000` (JSONB
 * rejects it) or lone surrogates, nesting beyond {@link MAX_BODY_DEPTH}, and bodies over
 * `maxBytes` of UTF-8. Errors name the JSON path of the offending value.
 *
 * Objects with `toJSON` (Date, class instances) are checked and serialised the way JSON.stringify
 * does. The check is one walk of the value before a plain JSON.stringify: a replacer function
 * would cost a call from C++ into JavaScript for every value, a tenth of a batched enqueue.
 */
export function serializeBody(body: unknown, field: string, maxBytes: number): string {
  const path: string[] = [];
  const ancestors = new Set<object>();

  const fail = (rule: string): never => {
    throw new QueueValidationError(field + path.join(''), rule);
  };

  const visit = (input: unknown, key: string, container: Container, depth: number): void => {
    let value = input;
    if (
      value !== null &&
      typeof value === 'object' &&
      typeof (value as { toJSON?: unknown }).toJSON === 'function'
    ) {
      value = (value as { toJSON(key: string): unknown }).toJSON(key);
    }
    switch (typeof value) {
      case 'string':
        checkString(value, fail, false);
        return;
      case 'number':
        if (!Number.isFinite(value)) fail(`must be a finite number (got ${value})`);
        return;
      case 'boolean':
        return;
      case 'undefined':
        // An undefined property is simply absent in JSON, and reads back as undefined: no loss.
        // In an array or as the whole body it would silently become null or vanish.
        if (container !== 'object') fail('must be JSON data, not undefined (use null)');
        return;
      case 'object':
        if (value === null) return;
        break;
      default:
        fail(`must be JSON data, not a ${typeof value}`);
    }
    const object = value as object;
    if (object instanceof Map || object instanceof Set) {
      fail('must be JSON data; a Map or Set serialises to {} (convert it first)');
    }
    if (depth > MAX_BODY_DEPTH) {
      fail(`must not nest objects and arrays deeper than ${MAX_BODY_DEPTH} levels`);
    }
    if (ancestors.has(object)) fail('must not contain circular references');
    ancestors.add(object);
    if (Array.isArray(object)) {
      for (let index = 0; index < object.length; index++) {
        path.push(`[${index}]`);
        visit(object[index], String(index), 'array', depth + 1);
        path.pop();
      }
    } else {
      const record = object as Record<string, unknown>;
      for (const property of Object.keys(record)) {
        path.push(formatProperty(property));
        checkString(property, fail, true);
        visit(record[property], property, 'object', depth + 1);
        path.pop();
      }
    }
    ancestors.delete(object);
  };

  visit(body, '', 'root', 1);
  const json = JSON.stringify(body);
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

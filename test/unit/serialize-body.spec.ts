import { describe, expect, it } from '@jest/globals';
import { serializeBody } from '../../src/body/serialize-body.js';
import { MAX_BODY_DEPTH, QueueValidationError } from '../../src/index.js';

const LIMIT = 1024 * 1024;

function fieldOf(body: unknown): string {
  try {
    serializeBody(body, 'body', LIMIT);
  } catch (error) {
    expect(error).toBeInstanceOf(QueueValidationError);
    return (error as QueueValidationError).field;
  }
  throw new Error('expected the body to be refused');
}

describe('serializeBody', () => {
  it('serialises JSON data exactly as JSON.stringify does', () => {
    const body = {
      a: [1, 'two', { three: null }],
      b: true,
      'odd key': -0.5,
      nested: { deep: [[]] },
    };
    expect(serializeBody(body, 'body', LIMIT)).toBe(JSON.stringify(body));
  });

  it('uses toJSON like JSON.stringify (Dates become ISO strings)', () => {
    const at = new Date('2026-11-24T00:00:00.000Z');
    expect(serializeBody({ at }, 'body', LIMIT)).toBe('{"at":"2026-11-24T00:00:00.000Z"}');
  });

  it('names the JSON path of the offending value', () => {
    expect(fieldOf({ a: { b: [0, 1, { c: NaN }] } })).toBe('body.a.b[2].c');
    expect(fieldOf({ 'needs quoting': 1n })).toBe('body["needs quoting"]');
    expect(fieldOf([[[Symbol('x')]]])).toBe('body[0][0][0]');
  });

  it('counts depth from the body itself', () => {
    let ok: unknown = 1;
    for (let i = 0; i < MAX_BODY_DEPTH; i++) ok = { k: ok };
    expect(() => serializeBody(ok, 'body', LIMIT)).not.toThrow();
    expect(() => serializeBody({ k: ok }, 'body', LIMIT)).toThrow(/deeper than 256 levels/);
  });

  it('allows a shared (non-cyclic) object to appear twice', () => {
    const shared = { x: 1 };
    expect(serializeBody({ a: shared, b: shared }, 'body', LIMIT)).toBe(
      '{"a":{"x":1},"b":{"x":1}}',
    );
  });

  it('measures the limit in UTF-8 bytes of the JSON text', () => {
    expect(() => serializeBody('é'.repeat(10), 'body', 22)).not.toThrow(); // 20 bytes + quotes
    expect(() => serializeBody('é'.repeat(10), 'body', 21)).toThrow(
      /at most 21 bytes as JSON \(got 22\)/,
    );
  });
});

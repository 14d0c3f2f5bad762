import { describe, expect, it } from '@jest/globals';
import { LazyAbort } from '../../src/async/lazy-abort.js';

describe('LazyAbort', () => {
  it('gives one signal, aborted with the reason when aborted after it was read', () => {
    const lazy = new LazyAbort();
    const signal = lazy.signal;
    expect(lazy.signal).toBe(signal);
    expect(signal.aborted).toBe(false);
    const reason = new Error('lost');
    lazy.abort(reason);
    expect(signal.aborted).toBe(true);
    expect(signal.reason).toBe(reason);
  });

  it('gives an already aborted signal when aborted before anyone read it', () => {
    const lazy = new LazyAbort();
    const reason = new Error('shutdown');
    lazy.abort(reason);
    expect(lazy.signal.aborted).toBe(true);
    expect(lazy.signal.reason).toBe(reason);
  });

  it('keeps the first reason when aborted twice', () => {
    const lazy = new LazyAbort();
    const first = new Error('first');
    lazy.abort(first);
    lazy.abort(new Error('second'));
    expect(lazy.signal.reason).toBe(first);
  });
});

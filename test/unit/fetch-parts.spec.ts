import { describe, expect, it } from '@jest/globals';
import { type LeasedMessage } from '../../src/index.js';
import { AUTO_PREFETCH_MAX } from '../../src/config/defaults.js';
import { leaseAhead, nextMeanMs } from '../../src/workers/lease-ahead.js';
import { PrefetchBuffer } from '../../src/workers/prefetch-buffer.js';
import { HEAD_SCAN_INTERVAL_MS, isAfter, ScanStart } from '../../src/workers/scan-start.js';
import { WakeSignal } from '../../src/workers/wake-signal.js';
import {
  logsAttempt,
  MAX_RECONNECT_DELAY_MS,
  reconnectDelayMs,
} from '../../src/workers/listen-reconnect.js';

/** The next message of a buffer whose leases never lapse. */
const take = (buffer: PrefetchBuffer) => buffer.takeLive(0, []);

const message = (n: number) => ({ id: `m${n}`, leaseToken: `t${n}` }) as LeasedMessage;

describe('PrefetchBuffer', () => {
  it('hands messages out oldest first', () => {
    const buffer = new PrefetchBuffer();
    buffer.push([message(1), message(2)]);
    buffer.push([message(3)]);
    expect(buffer.size).toBe(3);
    expect([take(buffer), take(buffer)].map((m) => m?.id)).toEqual(['m1', 'm2']);
    expect(buffer.peekAll().map((m) => m.id)).toEqual(['m3']);
    expect(take(buffer)?.id).toBe('m3');
    expect(take(buffer)).toBeUndefined();
    expect(buffer.size).toBe(0);
  });

  it('stays in order across compactions of a long run', () => {
    const buffer = new PrefetchBuffer();
    buffer.push(Array.from({ length: 5_000 }, (_, n) => message(n)));
    for (let n = 0; n < 3_000; n++) expect(take(buffer)?.id).toBe(`m${n}`);
    buffer.push([message(5_000)]);
    expect(buffer.size).toBe(2_001);
    expect(buffer.peekAll()[0]?.id).toBe('m3000');
    expect(buffer.peekAll().at(-1)?.id).toBe('m5000');
  });

  it('drops lost leases and empties on takeAll', () => {
    const buffer = new PrefetchBuffer();
    buffer.push([message(1), message(2), message(3), message(4)]);
    take(buffer);
    buffer.drop(new Set(['t3']));
    expect(buffer.peekAll().map((m) => m.id)).toEqual(['m2', 'm4']);
    expect(buffer.takeAll().map((m) => m.id)).toEqual(['m2', 'm4']);
    expect(buffer.size).toBe(0);
  });
});

describe('PrefetchBuffer bytes', () => {
  it('counts the bodies it holds, through take, drop and takeAll', () => {
    const buffer = new PrefetchBuffer();
    buffer.push([message(1), message(2), message(3)], [100, 200, 300]);
    expect(buffer.bytes).toBe(600);
    take(buffer);
    expect(buffer.bytes).toBe(500);
    buffer.drop(new Set(['t3']));
    expect(buffer.bytes).toBe(200);
    buffer.takeAll();
    expect(buffer.bytes).toBe(0);
  });
});

describe('PrefetchBuffer lease deadlines', () => {
  it('takes out messages whose lease may have lapsed instead of handing them out', () => {
    const buffer = new PrefetchBuffer();
    buffer.push([message(1), message(2)], [], 1_000);
    buffer.push([message(3)], [], 5_000);
    const lapsed: LeasedMessage[] = [];
    expect(buffer.takeLive(2_000, lapsed)?.id).toBe('m3');
    expect(lapsed.map((m) => m.id)).toEqual(['m1', 'm2']);
    expect(buffer.size).toBe(0);
  });

  it('keeps messages whose leases a heartbeat extended', () => {
    const buffer = new PrefetchBuffer();
    buffer.push([message(1), message(2)], [], 1_000);
    buffer.extend(new Set(['t2']), 9_000);
    // A beat never shortens a deadline.
    buffer.extend(new Set(['t2']), 500);
    const lapsed: LeasedMessage[] = [];
    expect(buffer.takeLive(2_000, lapsed)?.id).toBe('m2');
    expect(lapsed.map((m) => m.id)).toEqual(['m1']);
  });
});

describe('ScanStart', () => {
  const at = (availableAt: number, seq: number) => ({
    availableAt: String(availableAt),
    seq: String(seq),
  });

  it('starts from the head until a lease reached somewhere', () => {
    const start = new ScanStart();
    expect(start.next(0)).toBeUndefined();
    expect(start.next(10)).toBeUndefined();
    start.reached(at(100, 5));
    expect(start.next(20)).toEqual(at(100, 5));
  });

  it('after a lease that started past the position and found nothing, the next one starts from the head', () => {
    const start = new ScanStart();
    expect(start.next(0)).toBeUndefined();
    // An empty lease from the head proves nothing is due: nothing to follow.
    expect(start.foundNone()).toBe(false);
    start.reached(at(100, 5));
    expect(start.next(10)).toEqual(at(100, 5));
    expect(start.foundNone()).toBe(true);
    expect(start.next(20)).toBeUndefined();
    expect(start.foundNone()).toBe(false);
    expect(start.next(30)).toEqual(at(100, 5));
  });

  it('goes back to the head at least every interval', () => {
    const start = new ScanStart();
    expect(start.next(0)).toBeUndefined();
    start.reached(at(100, 5));
    expect(start.next(HEAD_SCAN_INTERVAL_MS - 1)).toEqual(at(100, 5));
    expect(start.next(HEAD_SCAN_INTERVAL_MS)).toBeUndefined();
    expect(start.next(HEAD_SCAN_INTERVAL_MS + 1)).toEqual(at(100, 5));
  });

  it('never moves back: a head scan that found stragglers keeps the position', () => {
    const start = new ScanStart();
    start.next(0);
    start.reached(at(100, 50));
    start.reached(at(90, 70));
    expect(start.next(1)).toBeUndefined();
    start.reached(undefined);
    expect(start.next(2)).toEqual(at(100, 50));
  });

  it('scans from the head again while head scans find stragglers behind the position', () => {
    const start = new ScanStart();
    start.next(0);
    start.reached(at(100, 50));
    expect(start.next(HEAD_SCAN_INTERVAL_MS)).toBeUndefined();
    start.reached(at(90, 70));
    // More may be waiting behind the position: the next lease starts from the head too.
    expect(start.next(HEAD_SCAN_INTERVAL_MS + 1)).toBeUndefined();
    start.reached(undefined);
    expect(start.next(HEAD_SCAN_INTERVAL_MS + 2)).toEqual(at(100, 50));
    // A lease from the position that ends behind it (it cannot) changes nothing.
    start.reached(at(90, 80));
    expect(start.next(HEAD_SCAN_INTERVAL_MS + 3)).toEqual(at(100, 50));
  });

  it('orders by due time, then seq, as bigints', () => {
    expect(isAfter(at(101, 1), at(100, 9))).toBe(true);
    expect(isAfter(at(100, 10), at(100, 9))).toBe(true);
    expect(isAfter(at(100, 9), at(100, 9))).toBe(false);
    expect(
      isAfter(
        { availableAt: '1', seq: '9007199254740993' },
        { availableAt: '1', seq: '9007199254740992' },
      ),
    ).toBe(true);
  });
});

describe('leaseAhead', () => {
  const auto = { prefetch: 'auto', concurrency: 32 } as const;

  it('is the fixed prefetch when one is set', () => {
    expect(leaseAhead({ ...auto, prefetch: 250, meanHandlerMs: 1 })).toBe(250);
    expect(leaseAhead({ ...auto, prefetch: 0, meanHandlerMs: 1 })).toBe(0);
  });

  it('leases about a second of work at the measured speed', () => {
    // 4 slots of 100 ms handlers start 40 messages a second.
    expect(leaseAhead({ ...auto, concurrency: 4, meanHandlerMs: 100 })).toBe(40);
    // Slow handlers: less than one message a second, nothing ahead (no hoarding).
    expect(leaseAhead({ ...auto, concurrency: 1, meanHandlerMs: 5_000 })).toBe(0);
  });

  it('is capped for fast handlers, even ones that take no time at all', () => {
    expect(leaseAhead({ ...auto, meanHandlerMs: 1 })).toBe(AUTO_PREFETCH_MAX);
    expect(leaseAhead({ ...auto, meanHandlerMs: 0 })).toBe(AUTO_PREFETCH_MAX);
  });

  it('before any handler finished, leases one more per slot', () => {
    expect(leaseAhead({ ...auto, meanHandlerMs: undefined })).toBe(32);
  });

  it('follows recent handler durations', () => {
    expect(nextMeanMs(undefined, 50)).toBe(50);
    let mean = 1_000;
    for (let i = 0; i < 30; i++) mean = nextMeanMs(mean, 10);
    expect(mean).toBeLessThan(15);
  });
});

describe('WakeSignal', () => {
  it('wakes a waiter, and keeps a wake that came first for the next wait', async () => {
    const signal = new WakeSignal();
    const waiting = signal.wait(10_000);
    signal.wake();
    expect(await waiting).toBe(false);
    signal.wake();
    expect(await signal.wait(10_000)).toBe(false);
  });

  it('times out with true when nobody wakes it', async () => {
    expect(await new WakeSignal().wait(5)).toBe(true);
  });

  it('once closed, every wait and sleep returns at once', async () => {
    const signal = new WakeSignal();
    const waiting = signal.wait();
    signal.close();
    expect(await waiting).toBe(false);
    const started = Date.now();
    await signal.sleep(10_000);
    expect(await signal.wait()).toBe(false);
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('sleep ends at a wake once its cut condition holds', async () => {
    const signal = new WakeSignal();
    let news = false;
    const started = Date.now();
    const sleeping = signal.sleep(10_000, () => news);
    signal.wake();
    await new Promise((resolve) => setTimeout(resolve, 20));
    news = true;
    signal.wake();
    await sleeping;
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('sleep is not cut short by a wake', async () => {
    const signal = new WakeSignal();
    const started = Date.now();
    const sleeping = signal.sleep(60);
    signal.wake();
    await sleeping;
    expect(Date.now() - started).toBeGreaterThanOrEqual(55);
  });
});

describe('LISTEN reconnects', () => {
  it('back off from 100 ms, doubling, to at most MAX_RECONNECT_DELAY_MS', () => {
    expect([1, 2, 3, 4, 5, 6, 50].map(reconnectDelayMs)).toEqual([
      100,
      200,
      400,
      800,
      1_600,
      MAX_RECONNECT_DELAY_MS,
      MAX_RECONNECT_DELAY_MS,
    ]);
  });

  it('log attempts 1, 2, 4, 8, … only, so a long outage stays quiet', () => {
    expect(
      Array.from({ length: 17 }, (_, i) => i + 1).filter((attempt) => logsAttempt(attempt)),
    ).toEqual([1, 2, 4, 8, 16]);
  });
});

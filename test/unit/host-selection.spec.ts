import { describe, expect, it } from '@jest/globals';
import {
  orderHosts,
  scanPasses,
  sessionSatisfies,
  type HostAddress,
  type SessionState,
  type TargetSessionAttrs,
} from '../../src/config/target-session-attrs.js';
import { HostSelector } from '../../src/database/host-selector.js';
import { isServerLostError } from '../../src/database/transient-database-error.js';
import { NoSuitableHostError } from '../../src/errors/no-suitable-host.error.js';

const PRIMARY: SessionState = { inRecovery: false, readOnly: false };
const STANDBY: SessionState = { inRecovery: true, readOnly: true };
const READ_ONLY_PRIMARY: SessionState = { inRecovery: false, readOnly: true };

describe('sessionSatisfies and scanPasses (libpq rules)', () => {
  it.each([
    ['any', [true, true, true]],
    ['read-write', [true, false, false]],
    ['read-only', [false, true, true]],
    ['primary', [true, false, true]],
    ['standby', [false, true, false]],
  ] as const)('%s accepts primary, standby, read-only primary: %j', (attrs, expected) => {
    expect(
      [PRIMARY, STANDBY, READ_ONLY_PRIMARY].map((state) => sessionSatisfies(attrs, state)),
    ).toEqual(expected);
  });

  it('prefer-standby is a standby pass, then any', () => {
    expect(scanPasses('prefer-standby')).toEqual(['standby', 'any']);
    expect(scanPasses('read-write')).toEqual(['read-write']);
  });

  it('orders hosts as written, or shuffled for load_balance_hosts=random', () => {
    const hosts = ['a', 'b', 'c'];
    expect(orderHosts(hosts, 'disable')).toBe(hosts);
    // random() = 0 swaps each position, from the last, with the first: a b c, c b a, b c a.
    expect(orderHosts(hosts, 'random', () => 0)).toEqual(['b', 'c', 'a']);
    expect(orderHosts(hosts, 'random', () => 0.99)).toEqual(['a', 'b', 'c']);
    expect(hosts).toEqual(['a', 'b', 'c']);
  });
});

const A: HostAddress = { host: 'a', port: 5432 };
const B: HostAddress = { host: 'b', port: 5433 };

function selector(
  attrs: TargetSessionAttrs,
  answers: Map<string, SessionState | Error>,
): { selector: HostSelector; probes: string[]; lines: string[]; switches: string[] } {
  const probes: string[] = [];
  const lines: string[] = [];
  const switches: string[] = [];
  const selector = new HostSelector(
    {
      hosts: [A, B],
      targetSessionAttrs: attrs,
      loadBalanceHosts: 'disable',
      hostConnectTimeoutMs: 1,
    },
    (host) => {
      probes.push(host.host);
      const answer = answers.get(host.host);
      return answer instanceof Error ? Promise.reject(answer) : Promise.resolve(answer);
    },
    { log: (line) => lines.push(line), warn: (line) => lines.push(`WARN ${line}`) },
    (error) => (error instanceof Error ? error.message : String(error)),
  );
  selector.onSwitch((host) => switches.push(host.host));
  return { selector, probes, lines, switches };
}

describe('HostSelector', () => {
  it('takes the first host that satisfies the attribute, and keeps it without probing again', async () => {
    const answers = new Map<string, SessionState | Error>([
      ['a', STANDBY],
      ['b', PRIMARY],
    ]);
    const { selector: s, probes, lines } = selector('read-write', answers);
    await expect(s.select()).resolves.toEqual(B);
    await expect(s.select()).resolves.toEqual(B);
    expect(probes).toEqual(['a', 'b']);
    expect(lines).toEqual(['Queue database host is now b:5433 (target_session_attrs=read-write)']);
    expect(s.accepts(B, PRIMARY)).toBe(true);
    expect(s.accepts(B, STANDBY)).toBe(false);
    expect(s.accepts(A, PRIMARY)).toBe(false);
  });

  it('shares one scan between concurrent callers', async () => {
    const { selector: s, probes } = selector(
      'primary',
      new Map<string, SessionState | Error>([['a', PRIMARY]]),
    );
    await Promise.all([s.select(), s.select(), s.select()]);
    expect(probes).toEqual(['a']);
  });

  it('after a lost host: fails while none is suitable (one warning), switches once one is, one line per switch', async () => {
    const answers = new Map<string, SessionState | Error>([
      ['a', PRIMARY],
      ['b', STANDBY],
    ]);
    const { selector: s, lines, switches } = selector('read-write', answers);
    await s.select();
    s.lost(B); // not the current host: nothing changes
    expect(s.isCurrent(A)).toBe(true);
    answers.set('a', new Error('connect ECONNREFUSED'));
    s.lost(A);
    const failure = await s.select().catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(NoSuitableHostError);
    expect((failure as NoSuitableHostError).code).toBe('08001');
    expect((failure as Error).message).toBe(
      'Queue connect failed: no host satisfies target_session_attrs=read-write (a:5432: connect ECONNREFUSED; b:5433: is a standby (in recovery)) (code 08001)',
    );
    await expect(s.select()).rejects.toBeInstanceOf(NoSuitableHostError);
    answers.set('b', PRIMARY);
    await expect(s.select()).resolves.toEqual(B);
    expect(lines).toEqual([
      'Queue database host is now a:5432 (target_session_attrs=read-write)',
      'WARN no host satisfies target_session_attrs=read-write (a:5432: connect ECONNREFUSED; b:5433: is a standby (in recovery)); looking again at the next connection',
      'Queue database host is now b:5433 (target_session_attrs=read-write; was a:5432)',
    ]);
    expect(switches).toEqual(['a', 'b']);
  });

  it('prefer-standby falls back to a primary, probing each host once', async () => {
    const { selector: s, probes } = selector(
      'prefer-standby',
      new Map<string, SessionState | Error>([
        ['a', PRIMARY],
        ['b', new Error('down')],
      ]),
    );
    await expect(s.select()).resolves.toEqual(A);
    expect(probes).toEqual(['a', 'b']);
    // A connection to the fallback host is accepted as any would be.
    expect(s.accepts(A, PRIMARY)).toBe(true);
  });

  it('any takes the first host that answers', async () => {
    const { selector: s } = selector(
      'any',
      new Map<string, SessionState | Error>([['a', new Error('down')]]),
    );
    await expect(s.select()).resolves.toEqual(B);
    expect(s.verifies).toBe(false);
  });
});

describe('isServerLostError: when the host must be looked for again', () => {
  it.each([
    ['a demoted primary (25006)', { code: '25006' }, true],
    ['admin shutdown (57P01)', { code: '57P01' }, true],
    ['crash shutdown (57P02)', { code: '57P02' }, true],
    ['starting up (57P03)', { code: '57P03' }, true],
    ['no suitable host (08001)', { code: '08001' }, true],
    ['refused', { code: 'ECONNREFUSED' }, true],
    ['a lost connection', new Error('Connection terminated unexpectedly'), true],
    ['a silent socket', new Error('Query read timeout'), true],
    ['a deadlock (the server serves)', { code: '40P01' }, false],
    ['a statement timeout', { code: '57014' }, false],
    ['a lock timeout', { code: '55P03' }, false],
    ['too many connections', { code: '53300' }, false],
    ['a unique violation', { code: '23505' }, false],
  ])('%s', (_label, error, expected) => {
    expect(isServerLostError(error)).toBe(expected);
  });
});

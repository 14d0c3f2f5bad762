/**
 * libpq's host selection rules, as pure functions: which server a `target_session_attrs` value
 * accepts, in which passes the hosts are tried, and in which order.
 */

/** The values libpq accepts for `target_session_attrs`, `any` first (its default). */
export const TARGET_SESSION_ATTRS = [
  'any',
  'read-write',
  'read-only',
  'primary',
  'standby',
  'prefer-standby',
] as const;
export type TargetSessionAttrs = (typeof TARGET_SESSION_ATTRS)[number];

/** The values libpq accepts for `load_balance_hosts`, `disable` first (its default). */
export const LOAD_BALANCE_HOSTS = ['disable', 'random'] as const;
export type LoadBalanceHosts = (typeof LOAD_BALANCE_HOSTS)[number];

/** One entry of a multi-host connection string. */
export interface HostAddress {
  readonly host: string;
  readonly port: number;
}

/** What a server answered to `pg_is_in_recovery()` and `SHOW transaction_read_only`. */
export interface SessionState {
  readonly inRecovery: boolean;
  readonly readOnly: boolean;
}

/** A `target_session_attrs` one scan pass applies: `prefer-standby` is two passes of these. */
export type PassAttrs = Exclude<TargetSessionAttrs, 'prefer-standby'>;

/**
 * The passes of one scan over the hosts. libpq's `prefer-standby` first looks for a standby on
 * every host, then takes any host that answers.
 */
export function scanPasses(attrs: TargetSessionAttrs): readonly PassAttrs[] {
  return attrs === 'prefer-standby' ? ['standby', 'any'] : [attrs];
}

/**
 * Whether a server in `state` is acceptable for `attrs`, as libpq decides it: `read-write` and
 * `read-only` look at `transaction_read_only` (a primary with `default_transaction_read_only`
 * counts as read-only), `primary` and `standby` at `pg_is_in_recovery()`.
 */
export function sessionSatisfies(attrs: PassAttrs, state: SessionState): boolean {
  switch (attrs) {
    case 'any':
      return true;
    case 'read-write':
      return !state.readOnly;
    case 'read-only':
      return state.readOnly;
    case 'primary':
      return !state.inRecovery;
    case 'standby':
      return state.inRecovery;
  }
}

/** Whether a pass needs the server's state at all (`any` takes the first host that answers). */
export function needsSessionState(attrs: TargetSessionAttrs): boolean {
  return attrs !== 'any';
}

/**
 * The order in which one scan tries the hosts: as written, or shuffled for
 * `load_balance_hosts=random` (Fisher-Yates, so every order is equally likely).
 */
export function orderHosts<T>(
  hosts: readonly T[],
  loadBalance: LoadBalanceHosts,
  random: () => number = Math.random,
): readonly T[] {
  if (loadBalance === 'disable') return hosts;
  const shuffled = [...hosts];
  for (let i = shuffled.length - 1; i > 0; i -= 1) {
    const j = Math.floor(random() * (i + 1));
    [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
  }
  return shuffled;
}

/** `host:port`, with an IPv6 address in brackets, for log lines and errors. */
export function hostLabel(address: HostAddress): string {
  return `${address.host.includes(':') ? `[${address.host}]` : address.host}:${address.port}`;
}

/** How a server that was not accepted is described in an error. */
export function describeSessionState(state: SessionState): string {
  if (state.inRecovery) return 'is a standby (in recovery)';
  return state.readOnly ? 'is a primary but read-only' : 'is a read-write primary';
}

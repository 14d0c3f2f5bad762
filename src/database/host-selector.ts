import { type HostSelectionConfig } from '../config/queue-config.js';
import {
  describeSessionState,
  hostLabel,
  needsSessionState,
  orderHosts,
  scanPasses,
  sessionSatisfies,
  type HostAddress,
  type PassAttrs,
  type SessionState,
} from '../config/target-session-attrs.js';
import { NoSuitableHostError } from '../errors/no-suitable-host.error.js';

/**
 * Opens a short-lived connection to `host` and reports its state (`undefined` when the scan
 * does not need it); rejects when the host does not answer within the per-host timeout.
 */
export type HostProbe = (
  host: HostAddress,
  withState: boolean,
) => Promise<SessionState | undefined>;

/** Where the selector's lines go: one per switch, one per outage (never a password). */
export interface HostSelectorLog {
  log(line: string): void;
  warn(line: string): void;
}

/**
 * Which host of a multi-host connection string the module's connections go to, as libpq picks
 * it: the hosts in order (or shuffled with `load_balance_hosts=random`), the first whose state
 * satisfies `target_session_attrs`. node-postgres connects to one host only, so every new
 * pooled connection and the LISTEN connection ask here first.
 *
 * The choice is kept until a connection to it is lost or finds it unsuitable (`lost`), so the
 * hosts are probed once per failover, not once per connection; concurrent callers share one scan.
 */
export class HostSelector {
  private current: HostAddress | undefined;
  /** The pass that accepted `current`: what each new connection to it must satisfy too. */
  private acceptedBy: PassAttrs = 'any';
  /** The host last chosen, kept across `lost`, to name the switch. */
  private previous: HostAddress | undefined;
  private scan: Promise<HostAddress> | undefined;
  private outageLogged = false;
  private readonly switchListeners = new Set<(host: HostAddress) => void>();

  constructor(
    private readonly options: HostSelectionConfig,
    private readonly probe: HostProbe,
    private readonly logger: HostSelectorLog,
    private readonly describe: (error: unknown) => string,
  ) {}

  /** Whether a new connection must check the server's state before it is used. */
  get verifies(): boolean {
    return needsSessionState(this.options.targetSessionAttrs);
  }

  get targetSessionAttrs(): string {
    return this.options.targetSessionAttrs;
  }

  /** The host new connections go to, scanning the hosts when none is known. */
  select(): Promise<HostAddress> {
    if (this.current !== undefined) return Promise.resolve(this.current);
    this.scan ??= this.scanHosts().finally(() => {
      this.scan = undefined;
    });
    return this.scan;
  }

  /** Whether a connection to `host` in `state` may be used (the chosen host, still suitable). */
  accepts(host: HostAddress, state: SessionState): boolean {
    return this.isCurrent(host) && sessionSatisfies(this.acceptedBy, state);
  }

  /** Whether `host` is the host new connections go to. */
  isCurrent(host: HostAddress): boolean {
    return this.current !== undefined && sameHost(this.current, host);
  }

  /**
   * A connection to `host` was lost, or found it unsuitable (read-only after a failover): the
   * next connection scans the hosts again. A stale connection's failure changes nothing.
   */
  lost(host: HostAddress): void {
    if (this.isCurrent(host)) this.current = undefined;
  }

  /** Calls `listener` each time new connections start going to another host. */
  onSwitch(listener: (host: HostAddress) => void): () => void {
    this.switchListeners.add(listener);
    return () => this.switchListeners.delete(listener);
  }

  private async scanHosts(): Promise<HostAddress> {
    const { targetSessionAttrs, loadBalanceHosts, hosts } = this.options;
    const withState = needsSessionState(targetSessionAttrs);
    // Each host is probed once per scan; prefer-standby's second pass reuses the first's answers.
    const answers = new Map<HostAddress, { state?: SessionState; failure?: string }>();
    const order = orderHosts(hosts, loadBalanceHosts);
    for (const pass of scanPasses(targetSessionAttrs)) {
      for (const host of order) {
        let answer = answers.get(host);
        if (answer === undefined) {
          try {
            const state = await this.probe(host, withState);
            answer = state === undefined ? {} : { state };
          } catch (error) {
            answer = { failure: this.describe(error) };
          }
          answers.set(host, answer);
        }
        if (answer.failure !== undefined) continue;
        if (answer.state === undefined || sessionSatisfies(pass, answer.state)) {
          this.choose(host, pass);
          return host;
        }
      }
    }
    const attempts = order.map((host) => {
      const answer = answers.get(host);
      return `${hostLabel(host)}: ${answer?.failure ?? (answer?.state === undefined ? 'not tried' : describeSessionState(answer.state))}`;
    });
    const error = new NoSuitableHostError(targetSessionAttrs, attempts);
    if (!this.outageLogged) {
      this.outageLogged = true;
      this.logger.warn(`${error.reason}; looking again at the next connection`);
    }
    throw error;
  }

  private choose(host: HostAddress, pass: PassAttrs): void {
    this.current = host;
    this.acceptedBy = pass;
    this.outageLogged = false;
    const previous = this.previous;
    this.previous = host;
    if (previous !== undefined && sameHost(previous, host)) return;
    this.logger.log(
      `Queue database host is now ${hostLabel(host)} (target_session_attrs=${this.options.targetSessionAttrs}${previous === undefined ? '' : `; was ${hostLabel(previous)}`})`,
    );
    for (const listener of this.switchListeners) listener(host);
  }
}

function sameHost(a: HostAddress, b: HostAddress): boolean {
  return a.host === b.host && a.port === b.port;
}

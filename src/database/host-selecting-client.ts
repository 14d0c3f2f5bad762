import pg from 'pg';
import {
  describeSessionState,
  hostLabel,
  type HostAddress,
  type SessionState,
} from '../config/target-session-attrs.js';
import { KEEPALIVE } from '../config/data-source-options.js';
import { type OwnedConnection, type QueueConfig } from '../config/queue-config.js';
import { NoSuitableHostError } from '../errors/no-suitable-host.error.js';
import { HostSelector, type HostProbe, type HostSelectorLog } from './host-selector.js';

/**
 * What libpq asks a server before it accepts it: both answers in one round trip. Works on every
 * supported version (PostgreSQL 14+ also reports them at startup, older ones do not).
 */
const SESSION_STATE_SQL =
  "SELECT pg_is_in_recovery() AS in_recovery, current_setting('transaction_read_only') = 'on' AS read_only";

/** The server's recovery and read-only state, asked on `client`. */
export async function readSessionState(client: pg.ClientBase): Promise<SessionState> {
  const { rows } = await client.query<{ in_recovery: boolean; read_only: boolean }>(
    SESSION_STATE_SQL,
  );
  return { inRecovery: rows[0]!.in_recovery, readOnly: rows[0]!.read_only };
}

/** A pooled or LISTEN connection that knows which host of the list it went to. */
export interface HostBoundClient extends pg.Client {
  /** The host this connection went to; undefined until it connected. */
  readonly selectedHost: HostAddress | undefined;
}

export function isHostBound(client: object): client is HostBoundClient {
  return 'selectedHost' in client;
}

/**
 * A `pg.Client` class for `pg.Pool`'s `Client` option (and the LISTEN connection) that connects
 * to the host the selector picks, and, when `target_session_attrs` asks for it, checks the
 * server's state after connecting, as libpq does. A client that cannot reach its host, or finds
 * it unsuitable (promoted, demoted), tells the selector and fails its connect: the caller's
 * retry gets a connection to the host a new scan finds.
 */
export function hostSelectingClient(selector: HostSelector): typeof pg.Client {
  class HostSelectingClient extends pg.Client implements HostBoundClient {
    selectedHost: HostAddress | undefined;

    override connect(): Promise<pg.Client>;
    override connect(callback: ((err: Error) => void) | ((err: null, c: pg.Client) => void)): void;
    override connect(
      callback?: ((err: Error) => void) | ((err: null, c: pg.Client) => void),
    ): Promise<pg.Client> | void {
      const connecting = this.connectToSelectedHost();
      if (callback === undefined) return connecting;
      const done = callback as (err: Error | null, c?: pg.Client) => void;
      connecting.then(
        () => done(null, this),
        (error: unknown) => done(error instanceof Error ? error : new Error(String(error))),
      );
    }

    private async connectToSelectedHost(): Promise<pg.Client> {
      const host = await selector.select();
      // The pool's connection timeout ran out during the scan: it destroyed this client's socket
      // and answered its caller already. Connecting now would leave a connection nobody owns.
      if (this.connection.stream.destroyed) {
        throw new Error('Connection terminated due to connection timeout');
      }
      // pg reads both when it opens the socket and when it starts TLS (the server name).
      this.host = host.host;
      this.port = host.port;
      const parameters = (this as unknown as { connectionParameters: HostAddress })
        .connectionParameters;
      Object.assign(parameters, { host: host.host, port: host.port });
      try {
        await super.connect();
      } catch (error) {
        selector.lost(host);
        throw error;
      }
      if (selector.verifies) {
        let state: SessionState;
        try {
          state = await readSessionState(this);
        } catch (error) {
          selector.lost(host);
          await this.end().catch(() => undefined);
          throw error;
        }
        if (!selector.accepts(host, state)) {
          selector.lost(host);
          await this.end().catch(() => undefined);
          throw new NoSuitableHostError(selector.targetSessionAttrs, [
            `${hostLabel(host)}: ${describeSessionState(state)} now`,
          ]);
        }
      }
      this.selectedHost = host;
      return this;
    }
  }
  return HostSelectingClient;
}

/**
 * The selector's probe: a short-lived plain connection with `config`'s credentials and TLS to
 * one host, bounded by the per-host timeout, closed after its one question.
 */
export function hostProbe(config: pg.ClientConfig, timeoutMs: number): HostProbe {
  return async (host, withState) => {
    const client = new pg.Client({
      ...config,
      host: host.host,
      port: host.port,
      connectionTimeoutMillis: timeoutMs,
      ...(config.application_name === undefined
        ? {}
        : { application_name: `${config.application_name}:probe` }),
    });
    // A probe that fails is reported by its rejection; a late socket error must not crash.
    client.on('error', () => undefined);
    try {
      await client.connect();
      return withState ? await readSessionState(client) : undefined;
    } finally {
      await client.end().catch(() => undefined);
    }
  };
}

/**
 * The selector for a connection the module owns, probing with its credentials, TLS and per-host
 * timeout; undefined for one host and `target_session_attrs=any` (node-postgres connects alone).
 */
export function hostSelectorFor(
  config: QueueConfig,
  connection: OwnedConnection,
  logger: HostSelectorLog,
  describe: (error: unknown) => string,
): HostSelector | undefined {
  const selection = connection.hostSelection;
  if (selection === undefined) return undefined;
  const probeConfig = {
    ...(connection.config as pg.ClientConfig),
    application_name: config.applicationName,
    ...KEEPALIVE,
  };
  return new HostSelector(
    selection,
    hostProbe(probeConfig, selection.hostConnectTimeoutMs),
    logger,
    describe,
  );
}

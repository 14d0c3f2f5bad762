import { type LoggerService } from '@nestjs/common';
import type pg from 'pg';
import { KEEPALIVE } from '../config/data-source-options.js';
import { type QueueConfig } from '../config/queue-config.js';
import { type QueueConnection } from '../database/queue-connection.js';
import { describeError } from '../errors/describe-error.js';
import {
  CHECK_INTERVAL_MS,
  discardListening,
  logsAttempt,
  MAX_RECONNECT_DELAY_MS,
  probeListening,
  reconnectDelayMs,
} from './listen-reconnect.js';

export interface FinishedHandlers {
  /** An awaited message ended (or was deleted); the payload is its id. */
  readonly onFinished: (id: string) => void;
  /**
   * LISTEN is in place, first or after a drop: ends notified while it was not were lost, so
   * every pending wait must be read again.
   */
  readonly onListening: () => void;
  /** The connection dropped: until `onListening`, ends are not heard. */
  readonly onLost: () => void;
}

/**
 * The connection `waitFor` hears ends on: one per process, outside the pool, LISTENing on the
 * table's finished channel only while someone waits (its owner starts and stops it). Apart from
 * the workers' listener, which runs only with processors and `listen: true`, and whose wake-ups
 * a producer-only process has no use for. It reconnects with backoff, as the workers' does,
 * and never throws.
 */
export class FinishedListener {
  private client: pg.Client | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private checkTimer: NodeJS.Timeout | undefined;
  private failures = 0;
  private running = false;
  private firstAttempt: Promise<void> | undefined;
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly connection: QueueConnection,
    private readonly config: QueueConfig,
    private readonly logger: LoggerService,
    private readonly handlers: FinishedHandlers,
  ) {}

  /** Whether LISTEN is in place now. */
  get listening(): boolean {
    return this.client !== undefined;
  }

  /**
   * Starts listening; resolves once the first attempt ended, LISTEN in place or not (then it
   * retries in the background).
   */
  start(): Promise<void> {
    if (this.running && this.firstAttempt !== undefined) return this.firstAttempt;
    this.running = true;
    this.unsubscribe ??= this.connection.onHostSwitch(() => {
      const client = this.client;
      if (client !== undefined) this.dropped(client, new Error('the database host changed'));
    });
    this.firstAttempt = this.connect();
    return this.firstAttempt;
  }

  async stop(): Promise<void> {
    this.running = false;
    this.firstAttempt = undefined;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    clearTimeout(this.reconnectTimer);
    clearInterval(this.checkTimer);
    this.failures = 0;
    const client = this.client;
    this.client = undefined;
    if (client !== undefined) {
      client.removeAllListeners();
      client.on('error', () => undefined);
      await client.end().catch(() => undefined);
    }
  }

  private async connect(): Promise<void> {
    const { names } = this.config;
    const client = this.connection.listenClient({
      application_name: `${this.config.applicationName}:wait`,
      connectionTimeoutMillis: this.config.connectionTimeoutMs,
      ...KEEPALIVE,
    });
    const dropped = (error?: Error) => this.dropped(client, error);
    client.on('error', dropped);
    client.on('end', () => dropped());
    client.on('notification', (notification) => {
      if (notification.channel === names.finishedChannel && notification.payload) {
        this.handlers.onFinished(notification.payload);
      }
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${names.quotedFinishedChannel}`);
    } catch (error) {
      client.removeAllListeners();
      client.on('error', () => undefined);
      await client.end().catch(() => undefined);
      this.scheduleReconnect(describeError(error));
      return;
    }
    if (!this.running || this.connection.onOldHost(client)) {
      client.removeAllListeners();
      client.on('error', () => undefined);
      await client.end().catch(() => undefined);
      if (this.running) this.scheduleReconnect('the database host changed while connecting');
      return;
    }
    this.client = client;
    this.checkTimer = setInterval(() => void this.check(client), CHECK_INTERVAL_MS).unref();
    if (this.failures > 0) {
      this.logger.log(
        `waitFor's LISTEN connection restored after ${this.failures} failed attempts`,
      );
      this.failures = 0;
    }
    this.handlers.onListening();
  }

  /** Proves the connection still listens (see `probeListening`). */
  private async check(client: pg.Client): Promise<void> {
    if (client !== this.client) return;
    const error = await probeListening(client);
    if (error !== undefined) this.dropped(client, error);
  }

  private dropped(client: pg.Client, error?: Error): void {
    if (client !== this.client || !this.running) return;
    this.client = undefined;
    clearInterval(this.checkTimer);
    discardListening(client);
    this.handlers.onLost();
    this.scheduleReconnect(error?.message ?? 'connection ended');
  }

  private scheduleReconnect(reason: string): void {
    if (!this.running) return;
    this.failures += 1;
    const delay = reconnectDelayMs(this.failures);
    if (logsAttempt(this.failures)) {
      this.logger.warn(
        `waitFor's LISTEN connection lost (${reason}); reconnecting every ${MAX_RECONNECT_DELAY_MS} ms at most (attempt ${this.failures}), polling meanwhile`,
      );
    }
    this.reconnectTimer = setTimeout(() => void this.connect(), delay);
    this.reconnectTimer.unref();
  }
}

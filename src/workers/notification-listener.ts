import { Inject, Injectable, Logger } from '@nestjs/common';
import type pg from 'pg';
import { KEEPALIVE } from '../config/data-source-options.js';
import { type QueueConfig } from '../config/queue-config.js';
import { QueueConnection } from '../database/queue-connection.js';
import { describeError } from '../errors/describe-error.js';
import {
  CHECK_INTERVAL_MS,
  discardListening,
  logsAttempt,
  MAX_RECONNECT_DELAY_MS,
  probeListening,
  reconnectDelayMs,
} from './listen-reconnect.js';
import { QUEUE_CONFIG } from '../queue.constants.js';
import { parseControlMessage, type ControlMessage } from './control-message.js';

export interface NotificationHandlers {
  /** A NOTIFY arrived on the table's channel; the payload is a queue name. */
  readonly onQueue: (queue: string) => void;
  /**
   * The connection came back after a drop (or opened): notifications sent meanwhile were lost,
   * and the database answers again.
   */
  readonly onReconnect: () => void;
  /** A well-formed notification on the table's control channel (pause, resume, cancel). */
  readonly onControl?: (message: ControlMessage) => void;
}

/**
 * One dedicated connection per process that LISTENs on the table's channel and on its control
 * channel, outside the pool so it never takes a slot from statements. When it drops (server restart, pg_terminate_backend,
 * network cut) it reconnects with backoff, subscribes again and tells the workers to look, since
 * whatever was notified in between is lost. It never throws: workers poll without it.
 */
@Injectable()
export class NotificationListener {
  private readonly logger = new Logger('QueueModule');
  private client: pg.Client | undefined;
  private handlers: NotificationHandlers | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private checkTimer: NodeJS.Timeout | undefined;
  private failures = 0;
  private stopped = false;
  private unsubscribe: (() => void) | undefined;
  private readonly controlListeners = new Set<(message: ControlMessage) => void>();

  constructor(
    @Inject(QueueConnection) private readonly connection: QueueConnection,
    @Inject(QUEUE_CONFIG) private readonly config: QueueConfig,
  ) {}

  async start(handlers: NotificationHandlers): Promise<void> {
    this.handlers = handlers;
    this.stopped = false;
    // With several hosts, the pool moved to another one: LISTEN there too, or NOTIFYs sent on the
    // new primary never arrive (the old one may still answer, read-only).
    this.unsubscribe ??= this.connection.onHostSwitch(() => {
      const client = this.client;
      if (client !== undefined) this.dropped(client, new Error('the database host changed'));
    });
    await this.connect();
  }

  /**
   * Also hears the control notifications (the scheduler does, for schedules changed elsewhere),
   * while this process listens: while its workers run with `listen`. Returns the unsubscribe.
   */
  addControlListener(listener: (message: ControlMessage) => void): () => void {
    this.controlListeners.add(listener);
    return () => this.controlListeners.delete(listener);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    clearTimeout(this.reconnectTimer);
    clearInterval(this.checkTimer);
    const client = this.client;
    this.client = undefined;
    if (client !== undefined) await client.end().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    const client = this.connection.listenClient({
      application_name: `${this.config.applicationName}:listen`,
      connectionTimeoutMillis: this.config.connectionTimeoutMs,
      ...KEEPALIVE,
    });
    const dropped = (error?: Error) => this.dropped(client, error);
    client.on('error', dropped);
    client.on('end', () => dropped());
    client.on('notification', (notification) => {
      if (!notification.payload) return;
      if (notification.channel === this.config.names.channel) {
        this.handlers?.onQueue(notification.payload);
      } else if (notification.channel === this.config.names.controlChannel) {
        const message = parseControlMessage(notification.payload);
        if (message === undefined) return;
        this.handlers?.onControl?.(message);
        for (const listener of this.controlListeners) listener(message);
      }
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${this.config.names.quotedChannel}`);
      await client.query(`LISTEN ${this.config.names.quotedControlChannel}`);
    } catch (error) {
      client.removeAllListeners();
      await client.end().catch(() => undefined);
      this.scheduleReconnect(describeError(error));
      return;
    }
    if (this.stopped) {
      await client.end().catch(() => undefined);
      return;
    }
    // A host switch while this client connected found no client to drop: it would stay LISTENing
    // on the old host (still up, read-only), where no NOTIFY is sent any more.
    if (this.connection.onOldHost(client)) {
      client.removeAllListeners();
      await client.end().catch(() => undefined);
      this.scheduleReconnect('the database host changed while connecting');
      return;
    }
    this.client = client;
    this.checkTimer = setInterval(() => void this.check(client), CHECK_INTERVAL_MS);
    if (this.failures > 0) {
      this.logger.log(`LISTEN connection restored after ${this.failures} failed attempts`);
      this.failures = 0;
    }
    this.handlers?.onReconnect();
  }

  /** Proves the connection still listens (see `probeListening`). */
  private async check(client: pg.Client): Promise<void> {
    if (client !== this.client) return;
    const error = await probeListening(client);
    if (error !== undefined) this.dropped(client, error);
  }

  private dropped(client: pg.Client, error?: Error): void {
    if (client !== this.client || this.stopped) return;
    this.client = undefined;
    clearInterval(this.checkTimer);
    discardListening(client);
    this.scheduleReconnect(error?.message ?? 'connection ended');
  }

  private scheduleReconnect(reason: string): void {
    if (this.stopped) return;
    this.failures += 1;
    const delay = reconnectDelayMs(this.failures);
    if (logsAttempt(this.failures)) {
      this.logger.warn(
        `LISTEN connection lost (${reason}); reconnecting every ${MAX_RECONNECT_DELAY_MS} ms at most (attempt ${this.failures}), polling meanwhile`,
      );
    }
    this.reconnectTimer = setTimeout(() => void this.connect(), delay);
  }
}

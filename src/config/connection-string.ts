import { accessSync, constants } from 'node:fs';
import { type ConnectionOptions } from 'node:tls';
import { parse } from 'pg-connection-string';
import { QueueOptionsError } from '../errors/queue-options.error.js';
import { isKeywordConnectionString, keywordsToUrl } from './keyword-connection-string.js';
import { MIN_CONNECT_TIMEOUT_SECONDS } from './limits.js';
import {
  LOAD_BALANCE_HOSTS,
  TARGET_SESSION_ATTRS,
  type HostAddress,
  type LoadBalanceHosts,
  type TargetSessionAttrs,
} from './target-session-attrs.js';

const OPTION = 'connectionString';
const SCHEME = /^postgres(?:ql)?:\/\//i;
const POOL_HINTS = ['min_size', 'max_size'] as const;
const SSL_FILES = ['sslcert', 'sslkey', 'sslrootcert'] as const;
/** libpq's default port, for a host of a multi-host URL written without one. */
const DEFAULT_PORT = 5432;

/** What node-postgres needs to open a connection, as read from a URL. */
export interface PgConnectionConfig {
  readonly host?: string;
  readonly port?: number;
  readonly user?: string;
  readonly password?: string;
  readonly database?: string;
  readonly ssl?: boolean | ConnectionOptions;
  /** Other query parameters node-postgres understands (`application_name`, `options`, …). */
  readonly [parameter: string]: unknown;
}

export interface ParsedConnectionString {
  readonly config: PgConnectionConfig;
  /** `min_size` from the URL, if given. */
  readonly poolMinSize?: number;
  /** `max_size` from the URL, if given. */
  readonly poolMaxSize?: number;
  /** The URL with its password replaced by `***`, for log lines. */
  readonly redacted: string;
  /**
   * Every host of the URL in the order written (`host1:5432,host2:5433`); one for a plain URL.
   * `config.host`/`config.port` are the first.
   */
  readonly hosts: readonly HostAddress[];
  /** libpq's `target_session_attrs`; `any` when absent. */
  readonly targetSessionAttrs: TargetSessionAttrs;
  /** libpq's `load_balance_hosts`; `disable` when absent. */
  readonly loadBalanceHosts: LoadBalanceHosts;
  /**
   * libpq's `connect_timeout` in seconds, per host attempt, when given and positive (1 becomes 2,
   * as in libpq); absent when not given or 0 (libpq: no limit).
   */
  readonly connectTimeoutSeconds?: number;
}

/**
 * Parses a connection string the way the Python `AsyncPostgresQueue` backend documents it, never echoing it back in an error
 * (it may hold a password).
 *
 * `sslmode` keeps its libpq meaning, as in the asyncpg world of the Python `AsyncPostgresQueue` backend: `require` encrypts without
 * verifying the certificate (with `sslrootcert` it verifies the chain, like `verify-ca`),
 * `verify-full` also checks the host name, `disable` turns TLS off. node-postgres cannot fall
 * back to plaintext, so `prefer` and `allow` encrypt without verification, like `require`.
 *
 * As libpq, it takes several hosts (`host1:5432,host2:5433`, or `host=a,b port=1,2` in the
 * keyword/value form) with `target_session_attrs`, `load_balance_hosts` and a per-host
 * `connect_timeout`; the module picks among them (src/database/host-selector.ts). A keyword/value
 * string's `redacted` form is the URL it stands for.
 */
export function parseConnectionString(input: string): ParsedConnectionString {
  // libpq's keyword/value form is read as the URL it stands for: one parser, one set of rules.
  const url = isKeywordConnectionString(input) ? keywordsToUrl(input) : input;
  let raw = url;
  if (!SCHEME.test(raw)) {
    throw new QueueOptionsError(
      OPTION,
      'must be a postgres:// or postgresql:// URL, or libpq keyword/value pairs (host=… dbname=…)',
    );
  }
  const authority = raw.slice(raw.indexOf('//') + 2).split(/[/?#]/, 1)[0] ?? '';
  const at = authority.lastIndexOf('@');
  const hostList = authority.slice(at + 1);
  // node-postgres parses one host only: the others are taken out here, and the URL it parses
  // names the first. Host selection (src/database/host-selector.ts) tries them all.
  const listed = hostList.includes(',') ? parseHostList(hostList) : undefined;
  if (listed !== undefined) {
    const hostStart = raw.indexOf('//') + 2 + at + 1;
    raw = `${raw.slice(0, hostStart)}${hostList.split(',')[0]}${raw.slice(hostStart + hostList.length)}`;
  }

  const queryStart = raw.indexOf('?');
  const base = queryStart === -1 ? raw : raw.slice(0, queryStart);
  const params = new URLSearchParams(queryStart === -1 ? '' : raw.slice(queryStart + 1));
  const hints: Partial<Record<(typeof POOL_HINTS)[number], number>> = {};
  for (const hint of POOL_HINTS) {
    const value = params.get(hint);
    if (value === null) continue;
    if (!/^\d+$/.test(value) || Number(value) < (hint === 'min_size' ? 0 : 1)) {
      throw new QueueOptionsError(
        OPTION,
        `query parameter ${hint} must be a ${hint === 'min_size' ? 'non-negative' : 'positive'} whole number`,
      );
    }
    hints[hint] = Number(value);
    params.delete(hint);
  }
  const targetSessionAttrs = takeChoice(params, 'target_session_attrs', TARGET_SESSION_ATTRS);
  const loadBalanceHosts = takeChoice(params, 'load_balance_hosts', LOAD_BALANCE_HOSTS);
  const connectTimeoutSeconds = takeConnectTimeout(params);
  // We always ask for libpq semantics; a second request in the URL would make pg refuse it.
  params.delete('uselibpqcompat');
  for (const file of SSL_FILES) {
    const path = params.get(file);
    if (path === null) continue;
    try {
      accessSync(path, constants.R_OK);
    } catch {
      throw new QueueOptionsError(OPTION, `${file} file ${path} does not exist or is not readable`);
    }
  }
  if (params.get('sslmode') === 'allow') params.set('sslmode', 'prefer');

  const query = params.toString();
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(query ? `${base}?${query}` : base, { useLibpqCompat: true });
  } catch (error) {
    throw new QueueOptionsError(
      OPTION,
      `is not a valid connection URL${describeParseFailure(error)}`,
    );
  }

  const { port, ...rest } = parsed as Record<string, unknown>;
  const config: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(rest)) {
    // sslmode and the file names were turned into `ssl` by the parser; pg needs only that.
    if (key === 'sslmode' || SSL_FILES.includes(key as never)) continue;
    if (value !== undefined && value !== null && value !== '') config[key] = value;
  }
  if (typeof port === 'string' && port !== '') {
    const portNumber = Number(port);
    if (!Number.isInteger(portNumber) || portNumber < 1 || portNumber > 65535) {
      throw new QueueOptionsError(OPTION, 'port must be a whole number from 1 to 65535');
    }
    config.port = portNumber;
  }

  const first: HostAddress = {
    host: typeof config.host === 'string' ? config.host : 'localhost',
    port: typeof config.port === 'number' ? config.port : DEFAULT_PORT,
  };
  return {
    config,
    hosts: listed ?? [first],
    targetSessionAttrs,
    loadBalanceHosts,
    ...(connectTimeoutSeconds === undefined ? {} : { connectTimeoutSeconds }),
    ...(hints.min_size === undefined ? {} : { poolMinSize: hints.min_size }),
    ...(hints.max_size === undefined ? {} : { poolMaxSize: hints.max_size }),
    redacted: redactConnectionString(url),
  };
}

/**
 * The hosts of a multi-host URL's authority, `host1:5432,host2,[::1]:5433`, each with its own
 * port or libpq's default. An empty entry or a bad port is refused (without echoing the URL).
 */
function parseHostList(list: string): HostAddress[] {
  return list.split(',').map((entry, index) => {
    const match = /^(\[[^\]]+\]|[^:[\]]+)(?::(\d*))?$/.exec(entry);
    if (match === null) {
      throw new QueueOptionsError(
        OPTION,
        `host ${index + 1} of the host list is empty or malformed (expected host or host:port)`,
      );
    }
    const host = decodeURIComponent(match[1]!.replace(/^\[|\]$/g, ''));
    const port = match[2] === undefined || match[2] === '' ? DEFAULT_PORT : Number(match[2]);
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw new QueueOptionsError(
        OPTION,
        `port of host ${index + 1} must be a whole number from 1 to 65535`,
      );
    }
    return { host, port };
  });
}

/** Takes a libpq parameter with a fixed set of values out of the query; the first is its default. */
function takeChoice<const T extends string>(
  params: URLSearchParams,
  name: string,
  choices: readonly [T, ...T[]],
): T {
  const value = params.get(name);
  params.delete(name);
  if (value === null) return choices[0];
  if (!(choices as readonly string[]).includes(value)) {
    throw new QueueOptionsError(
      OPTION,
      `query parameter ${name} must be one of ${choices.join(', ')}`,
    );
  }
  return value as T;
}

/** libpq's `connect_timeout`: whole seconds per host; 0 or negative is no limit, 1 means 2. */
function takeConnectTimeout(params: URLSearchParams): number | undefined {
  const value = params.get('connect_timeout');
  params.delete('connect_timeout');
  if (value === null) return undefined;
  if (!/^-?\d+$/.test(value.trim())) {
    throw new QueueOptionsError(
      OPTION,
      'query parameter connect_timeout must be a whole number of seconds',
    );
  }
  const seconds = Number(value);
  return seconds <= 0 ? undefined : Math.max(MIN_CONNECT_TIMEOUT_SECONDS, seconds);
}

function describeParseFailure(error: unknown): string {
  // pg-connection-string's own messages never contain the input; the URL parser's may.
  if (error instanceof Error && /sslmode|sslrootcert|verify-ca/i.test(error.message)) {
    return `: ${error.message}`;
  }
  return '';
}

/**
 * Replaces the password of a connection URL (and any `password=`/`sslpassword=` parameter), or
 * of a keyword/value string, with `***`, for log lines: `redactConnectionString(process.env.DATABASE_URL)`. Only the user-info
 * position is touched: a password that is also a common word (the user name, `postgres`) must
 * not blank out the rest of the URL.
 */
export function redactConnectionString(raw: string): string {
  const schemeEnd = raw.indexOf('://');
  // libpq's keyword form (`host=a user=u password='p w'`): mask each password value, quoted or not.
  if (schemeEnd === -1) {
    return raw.replace(/\b((?:ssl)?password\s*=\s*)('(?:[^'\\]|\\.)*'?|\S*)/gi, '$1***');
  }
  const start = schemeEnd + 3;
  const queryStart = raw.indexOf('?', start);
  const beforeQuery = queryStart === -1 ? raw : raw.slice(0, queryStart);
  // The host cannot contain '@', so the last one before the query ends the user info, even when
  // the password itself holds an '@'.
  const at = beforeQuery.lastIndexOf('@');
  let redacted = raw;
  if (at > start) {
    const colon = raw.indexOf(':', start);
    if (colon !== -1 && colon < at) redacted = `${raw.slice(0, colon + 1)}***${raw.slice(at)}`;
  } else {
    // No user info before the query, yet an '@' after it: an unencoded '?' or '/' in a password
    // (`postgres://user:pa?ss@host/db`) moved the user info into the query. Mask all of it.
    const lateAt = raw.lastIndexOf('@');
    if (lateAt > start && raw.slice(start, lateAt).includes(':')) {
      redacted = `${raw.slice(0, start)}***${raw.slice(lateAt)}`;
    }
  }
  return redacted.replace(/([?&](?:ssl)?password=)[^&#]*/gi, '$1***');
}

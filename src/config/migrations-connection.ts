import { QueueOptionsError } from '../errors/queue-options.error.js';
import { type QueueModuleOptions } from '../interfaces/queue-module-options.interface.js';
import { parseConnectionString, type ParsedConnectionString } from './connection-string.js';
import { type HostSelectionConfig, type OwnedConnection } from './queue-config.js';

const OPTION = 'migrationsConnectionString';

/**
 * The connection of the boot's migrations when `migrationsConnectionString` is given: parsed and
 * checked by the rules of `connectionString` (a failure names this option, never the URL), one
 * connection (a migration uses no more; the URL's pool hints are ignored), the module's `ssl`
 * option applied as to the application's connection. Undefined when the option is absent.
 */
export function resolveMigrationsConnection(
  options: QueueModuleOptions,
  connectionTimeoutMs: number,
): OwnedConnection | undefined {
  const url = options.migrationsConnectionString;
  if (url === undefined) return undefined;
  if (options.migrationsRun === false) {
    throw new QueueOptionsError(
      OPTION,
      'is used by the migrations at boot only, which migrationsRun: false turns off',
    );
  }
  let parsed: ParsedConnectionString;
  try {
    parsed = parseConnectionString(url.trim());
  } catch (error) {
    if (error instanceof QueueOptionsError) throw new QueueOptionsError(OPTION, error.rule);
    throw error;
  }
  const config = options.ssl === undefined ? parsed.config : { ...parsed.config, ssl: options.ssl };
  return Object.freeze({
    kind: 'owned' as const,
    config: Object.freeze(config),
    redacted: parsed.redacted,
    poolMinSize: 0,
    poolMaxSize: 1,
    hostSelection: hostSelectionOf(parsed, connectionTimeoutMs),
  });
}

/**
 * How to pick among a URL's hosts, or undefined for one host with `target_session_attrs=any`,
 * where node-postgres connects by itself.
 */
export function hostSelectionOf(
  parsed: ParsedConnectionString,
  connectionTimeoutMs: number,
): HostSelectionConfig | undefined {
  if (parsed.hosts.length <= 1 && parsed.targetSessionAttrs === 'any') return undefined;
  return Object.freeze({
    hosts: Object.freeze(parsed.hosts),
    targetSessionAttrs: parsed.targetSessionAttrs,
    loadBalanceHosts: parsed.loadBalanceHosts,
    hostConnectTimeoutMs:
      parsed.connectTimeoutSeconds === undefined
        ? connectionTimeoutMs
        : parsed.connectTimeoutSeconds * 1_000,
  });
}

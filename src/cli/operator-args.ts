import {
  assertMessageId,
  assertMessageState,
  assertQueueName,
  assertWholeNumber,
} from '../config/argument-rules.js';
import { DEFAULT_LIST_LIMIT } from '../config/defaults.js';
import { LIMITS, MAX_LEASE_BATCH, MAX_SECONDS, type Bounds } from '../config/limits.js';
import { QueueValidationError } from '../errors/queue-validation.error.js';
import { type MessageState } from '../interfaces/queue-message.interface.js';
import { type MessageListFilter } from '../sql/list-messages.sql.js';
import { type CliOptionValues } from './cli-args.js';
import { type CliCommandInput } from './cli-command.js';

/*
 * The operator commands' arguments and options, read before any connection opens; pure, so every
 * rule is a unit test. Two kinds of refusal: a command line that cannot be run (an option
 * missing, two that exclude each other) is a `CliUsageProblem`, answered with exit 2 and the
 * help hint; a value that breaks a rule (a queue name too long, a state that is none) throws the
 * `QueueValidationError` the queue's methods throw, naming the option (exit 1).
 */

/** A command line that cannot be run: what is missing or contradictory. */
export interface CliUsageProblem {
  readonly usage: string;
}

export function isUsageProblem(value: unknown): value is CliUsageProblem {
  return typeof value === 'object' && value !== null && 'usage' in value;
}

function problem(usage: string): CliUsageProblem {
  return { usage };
}

/** A text option's value, or undefined when it was not given. */
function text(options: CliOptionValues, name: string): string | undefined {
  const value = options[name];
  return typeof value === 'string' ? value : undefined;
}

/** `--queue`, when given, by the queue's own rules. */
export function queueOption(options: CliOptionValues): string | undefined {
  const value = text(options, 'queue');
  return value === undefined ? undefined : assertQueueName(value, '--queue');
}

/** `--state`, when given: one of the message states. */
export function stateOption(options: CliOptionValues): MessageState | undefined {
  const value = text(options, 'state');
  return value === undefined ? undefined : assertMessageState(value, '--state');
}

/** A whole-number option within `bounds`, digits only (no `1e3`, no sign). */
export function wholeNumberOption(
  options: CliOptionValues,
  name: string,
  bounds: Bounds,
): number | undefined {
  const value = text(options, name);
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) {
    throw new QueueValidationError(`--${name}`, `must be a whole number (got '${value}')`);
  }
  return assertWholeNumber(Number(value), `--${name}`, bounds);
}

/**
 * `--where`: a JSON object the body must contain (`body @> where`), as canonical JSON text. An
 * object only: `@>` with a scalar or an array matches in ways an operator rarely means (`"a"`
 * is contained in `["a", "b"]`).
 */
export function whereOption(options: CliOptionValues): string | undefined {
  const value = text(options, 'where');
  if (value === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw new QueueValidationError('--where', `must be JSON, e.g. '{"customer":"acme"}'`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new QueueValidationError(
      '--where',
      `must be a JSON object the body contains, e.g. '{"customer":"acme"}'`,
    );
  }
  return JSON.stringify(parsed);
}

/** `--ids a,b,c`: message ids, each by the id rules, duplicates dropped. */
export function idsOption(options: CliOptionValues): string[] | undefined {
  const value = text(options, 'ids');
  if (value === undefined) return undefined;
  const ids = [...new Set(value.split(',').map((id) => id.trim()))];
  if (ids.length > MAX_LEASE_BATCH) {
    throw new QueueValidationError(
      '--ids',
      `must list at most ${MAX_LEASE_BATCH} ids (got ${ids.length}); use --all, or several runs`,
    );
  }
  ids.forEach((id) => assertMessageId(id, '--ids'));
  return ids;
}

/** The `<id>` argument, by the id rules. */
export function idArgument(input: CliCommandInput): string {
  return assertMessageId(input.argument ?? '', '<id>');
}

function requiredQueue(options: CliOptionValues, command: string): string | CliUsageProblem {
  return queueOption(options) ?? problem(`${command} needs --queue <name>`);
}

/** Seconds an age filter may span: a Postgres integer, like a delay. */
const AGE_SECONDS: Bounds = { min: 0, max: MAX_SECONDS };

/** `list`'s filter and page. */
export function listSettings(input: CliCommandInput): MessageListFilter | CliUsageProblem {
  const { options } = input;
  const queue = requiredQueue(options, 'list');
  if (isUsageProblem(queue)) return queue;
  const state = stateOption(options);
  const olderThanSeconds = wholeNumberOption(options, 'older-than', AGE_SECONDS);
  const bodyContains = whereOption(options);
  const after = text(options, 'after');
  const afterId = after === undefined ? undefined : assertMessageId(after, '--after');
  const limit = wholeNumberOption(options, 'limit', LIMITS.batch) ?? DEFAULT_LIST_LIMIT;
  return {
    queue,
    limit,
    ...(state === undefined ? {} : { state }),
    ...(olderThanSeconds === undefined ? {} : { olderThanSeconds }),
    ...(bodyContains === undefined ? {} : { bodyContains }),
    ...(afterId === undefined ? {} : { afterId }),
  };
}

/** `retry`'s queue, and the ids to put back (undefined: every dead letter, `--all`). */
export interface RetrySettings {
  readonly queue: string;
  readonly ids?: readonly string[];
}

export function retrySettings(input: CliCommandInput): RetrySettings | CliUsageProblem {
  const { options } = input;
  const queue = requiredQueue(options, 'retry');
  if (isUsageProblem(queue)) return queue;
  const all = options.all === true;
  const given = text(options, 'ids') !== undefined;
  // Retrying every dead letter is never the default: it must be asked for by name.
  if (all === given) return problem('retry needs either --ids <id,id,…> or --all');
  const ids = idsOption(options);
  return ids === undefined ? { queue } : { queue, ids };
}

/** `clear`'s queue and state; refused without `--yes`, since it deletes. */
export interface ClearSettings {
  readonly queue: string;
  readonly state?: MessageState;
}

export function clearSettings(input: CliCommandInput): ClearSettings | CliUsageProblem {
  const { options } = input;
  const queue = requiredQueue(options, 'clear');
  if (isUsageProblem(queue)) return queue;
  const state = stateOption(options);
  if (options.yes !== true) {
    return problem(
      `clear deletes ${state === undefined ? 'every message' : `the ${state} messages`} of ${queue} for good: add --yes to confirm`,
    );
  }
  return state === undefined ? { queue } : { queue, state };
}

/** `pause` and `resume`: the queue. */
export function pausedQueueSettings(
  input: CliCommandInput,
  command: string,
): string | CliUsageProblem {
  return requiredQueue(input.options, command);
}

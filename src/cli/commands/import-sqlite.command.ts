import { performance } from 'node:perf_hooks';
import { DEFAULT_MAX_BODY_BYTES } from '../../config/defaults.js';
import { LIMITS } from '../../config/limits.js';
import { redactConnectionString } from '../../config/connection-string.js';
import { describeError } from '../../errors/describe-error.js';
import { QueueValidationError } from '../../errors/queue-validation.error.js';
import { importSqlite, type ImportProgress } from '../../import/import-sqlite.js';
import { type CliOptionValues } from '../cli-args.js';
import {
  CLI_APPLICATION_NAME,
  targetTable,
  type CliCommand,
  type CliCommandInput,
} from '../cli-command.js';
import {
  progressBar,
  progressLine,
  rowsPerSecond,
  summaryLines,
  type ImportJsonSummary,
} from '../import-progress.js';

/**
 * Rows per statement by default. Batches of 250 to 5,000 imported 100,000 rows here at the same
 * speed within the noise; a thousand keeps each statement short and its memory small.
 */
export const DEFAULT_IMPORT_BATCH = 1_000;
/** Rows per statement at most: `MAX_LEASE_BATCH`'s order, and one statement stays short. */
export const IMPORT_BATCH = { min: 1, max: 10_000 } as const;
/** Invalid rows the `--json` summary lists; the rest are counted. */
const JSON_INVALID_ROWS = 1_000;
/** A log line at most this often when the output is not a terminal. */
const LOG_EVERY_MS = 5_000;
/** A terminal's status line at most this often. */
const BAR_EVERY_MS = 100;

/** `import-sqlite`'s own settings, from its argument and options. */
export interface ImportSqliteSettings {
  readonly file: string;
  readonly skipDone: boolean;
  readonly dryRun: boolean;
  readonly json: boolean;
  readonly batchSize: number;
  readonly maxBodyBytes: number;
}

/**
 * Reads the command's argument and options; pure.
 * @throws {QueueValidationError} naming the option and the rule.
 */
export function importSqliteSettings(input: CliCommandInput): ImportSqliteSettings {
  const { argument, options } = input;
  if (argument === undefined || argument === '') {
    throw new QueueValidationError('<file>', 'must be the SQLite database file to import');
  }
  return {
    file: argument,
    skipDone: options['skip-done'] === true,
    dryRun: options['dry-run'] === true,
    json: input.json,
    batchSize: wholeOption(options, 'batch-size', IMPORT_BATCH, DEFAULT_IMPORT_BATCH),
    maxBodyBytes: wholeOption(
      options,
      'max-body-bytes',
      LIMITS.maxBodyBytes,
      DEFAULT_MAX_BODY_BYTES,
    ),
  };
}

function wholeOption(
  options: CliOptionValues,
  name: string,
  bounds: { readonly min: number; readonly max: number },
  fallback: number,
): number {
  const text = options[name];
  if (typeof text !== 'string') return fallback;
  const value = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < bounds.min || value > bounds.max) {
    throw new QueueValidationError(
      `--${name}`,
      `must be a whole number from ${bounds.min} to ${bounds.max} (got '${text}')`,
    );
  }
  return value;
}

/** `import-sqlite`: the Python SQLite backend's file into the queue table. */
export const importSqliteCommand: CliCommand = {
  name: 'import-sqlite',
  argument: '<file>',
  summary: "Import the Python SQLite backend's messages; ids already present are skipped",
  options: [
    { name: 'skip-done', type: 'boolean', summary: 'Leave out messages in state done' },
    { name: 'dry-run', type: 'boolean', summary: 'Read and check everything; write nothing' },
    {
      name: 'batch-size',
      type: 'string',
      valueName: '<n>',
      summary: `Rows per statement (default ${DEFAULT_IMPORT_BATCH}, at most ${IMPORT_BATCH.max})`,
    },
    {
      name: 'max-body-bytes',
      type: 'string',
      valueName: '<n>',
      summary: `Largest body, as the module's maxBodyBytes (default ${DEFAULT_MAX_BODY_BYTES})`,
    },
  ],
  async run(target, output, input) {
    const settings = importSqliteSettings(input);
    const { json } = settings;
    const say = (line: string) => {
      if (!json) output.out(line);
    };
    say(
      `${settings.dryRun ? 'Checking' : 'Importing'} ${settings.file} into ${targetTable(target)} on ${redactConnectionString(target.connectionString)}`,
    );

    const invalidRows: { id: string; reason: string }[] = [];
    let lastShown = Number.NEGATIVE_INFINITY;
    let barShown = false;
    const show = (progress: ImportProgress, final: boolean): void => {
      if (json) return;
      const now = performance.now();
      if (output.status !== undefined) {
        if (final || now - lastShown >= BAR_EVERY_MS) {
          output.status(progressBar(progress));
          barShown = true;
          lastShown = now;
        }
      } else if (final || now - lastShown >= LOG_EVERY_MS) {
        output.out(progressLine(progress));
        lastShown = now;
      }
    };

    const summary = await importSqlite({
      ...target,
      applicationName: CLI_APPLICATION_NAME,
      file: settings.file,
      skipDone: settings.skipDone,
      dryRun: settings.dryRun,
      batchSize: settings.batchSize,
      maxBodyBytes: settings.maxBodyBytes,
      onMigrated: (applied) => {
        for (const name of applied) say(`Applied ${name}`);
      },
      onMigrationRetry: (error, delayMs) =>
        output.err(
          `Waiting for a table lock another transaction holds (${describeError(error)}); trying again in ${delayMs} ms`,
        ),
      onProgress: (progress) => {
        if (progress.read === 0) say(`${progress.total.toLocaleString('en-US')} rows to read`);
        show(progress, false);
      },
      onInvalid: (id, reason) => {
        if (json) {
          if (invalidRows.length < JSON_INVALID_ROWS) invalidRows.push({ id, reason });
          return;
        }
        if (barShown) output.status?.('');
        output.err(`invalid ${id}: ${reason}`);
      },
    });
    if (json) {
      const result: ImportJsonSummary = {
        ...summary,
        rowsPerSecond: rowsPerSecond(summary),
        invalidRows,
        invalidRowsOmitted: summary.invalid - invalidRows.length,
      };
      output.out(JSON.stringify(result));
      return;
    }
    show(summary, true);
    // The bar stays on screen; the summary starts below it.
    if (barShown) output.err('');
    for (const line of summaryLines(summary)) output.out(line);
  },
};

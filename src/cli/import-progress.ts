import { type ImportProgress, type ImportSummary } from '../import/import-sqlite.js';

/*
 * What `import-sqlite` prints while it runs and when it ends; pure, so each line is a unit test.
 */

const count = (value: number): string => value.toLocaleString('en-US');

/** Rows per second so far; 0 until there is something to divide. */
export function rowsPerSecond(progress: ImportProgress): number {
  return progress.seconds > 0 ? Math.round(progress.read / progress.seconds) : 0;
}

/** `m:ss` (or `h:mm:ss`) for the time left at the rate so far; `--:--` before there is a rate. */
export function eta(progress: ImportProgress): string {
  const rate = progress.seconds > 0 ? progress.read / progress.seconds : 0;
  if (rate === 0) return '--:--';
  const left = Math.ceil(Math.max(0, progress.total - progress.read) / rate);
  const hours = Math.floor(left / 3600);
  const minutes = Math.floor((left % 3600) / 60);
  const seconds = String(left % 60).padStart(2, '0');
  return hours > 0
    ? `${hours}:${String(minutes).padStart(2, '0')}:${seconds}`
    : `${minutes}:${seconds}`;
}

function fraction(progress: ImportProgress): number {
  return progress.total === 0 ? 1 : Math.min(1, progress.read / progress.total);
}

/** The terminal's status line: a bar, the rows, the rate and the time left. */
export function progressBar(progress: ImportProgress, width = 24): string {
  const done = Math.round(fraction(progress) * width);
  const percent = Math.floor(fraction(progress) * 100);
  return `[${'#'.repeat(done)}${'-'.repeat(width - done)}] ${String(percent).padStart(3)}% ${count(progress.read)}/${count(progress.total)} rows  ${count(rowsPerSecond(progress))} rows/s  ETA ${eta(progress)}`;
}

/** A progress line for a log (output that is not a terminal). */
export function progressLine(progress: ImportProgress): string {
  return `read ${count(progress.read)} of ${count(progress.total)} (${Math.floor(fraction(progress) * 100)}%): imported ${count(progress.imported)}, present ${count(progress.present)}, invalid ${count(progress.invalid)}, ${count(rowsPerSecond(progress))} rows/s, ETA ${eta(progress)}`;
}

/** The closing lines. */
export function summaryLines(summary: ImportSummary): string[] {
  const imported = summary.dryRun ? 'would import' : 'imported';
  const lines = [
    `Read ${count(summary.read)} rows in ${summary.seconds.toFixed(1)} s (${count(rowsPerSecond(summary))} rows/s): ${imported} ${count(summary.imported)}, skipped as present ${count(summary.present)}, invalid ${count(summary.invalid)}${summary.skippedDone > 0 ? `, done skipped ${count(summary.skippedDone)}` : ''}`,
  ];
  if (summary.dryRun) {
    lines.push(`Dry run: nothing was written to ${summary.table}`);
  } else if (summary.imported === 0) {
    lines.push(
      summary.present > 0
        ? `Nothing imported: every valid row's id is in ${summary.table} already`
        : 'Nothing imported: the file has no importable rows',
    );
  }
  return lines;
}

/** The `--json` summary: one object on stdout. */
export interface ImportJsonSummary extends ImportSummary {
  readonly rowsPerSecond: number;
  /** The first invalid rows, with why; `invalidRowsOmitted` counts the rest. */
  readonly invalidRows: readonly { readonly id: string; readonly reason: string }[];
  readonly invalidRowsOmitted: number;
}

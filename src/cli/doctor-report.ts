import { type DoctorFinding } from '../diagnostics/doctor-findings.js';

/*
 * What `doctor` prints; pure, so each line is a unit test.
 */

const LABEL = { problem: 'PROBLEM', warning: 'WARNING', ok: 'ok' } as const;

function counts(findings: readonly DoctorFinding[]): { problems: number; warnings: number } {
  return {
    problems: findings.filter((finding) => finding.severity === 'problem').length,
    warnings: findings.filter((finding) => finding.severity === 'warning').length,
  };
}

const plural = (count: number, word: string): string => `${count} ${word}${count === 1 ? '' : 's'}`;

/** The text report: one line per finding, its action below it, and a closing count. */
export function doctorLines(where: string, findings: readonly DoctorFinding[]): string[] {
  const checkWidth = Math.max(...findings.map((finding) => finding.check.length), 0);
  const lines = [`Checking ${where}`];
  for (const finding of findings) {
    lines.push(
      `  ${LABEL[finding.severity].padEnd(7)}  ${finding.check.padEnd(checkWidth)}  ${finding.summary}`,
    );
    if (finding.action !== undefined) {
      lines.push(`  ${' '.repeat(7)}  ${' '.repeat(checkWidth)}  -> ${finding.action}`);
    }
  }
  const { problems, warnings } = counts(findings);
  lines.push(
    problems === 0 && warnings === 0
      ? 'No problems found'
      : `${plural(problems, 'problem')}, ${plural(warnings, 'warning')}`,
  );
  return lines;
}

/** The `--json` document. */
export interface DoctorJson {
  readonly table: string;
  readonly problems: number;
  readonly warnings: number;
  readonly findings: readonly DoctorFinding[];
}

export function doctorJson(table: string, findings: readonly DoctorFinding[]): DoctorJson {
  return { table, ...counts(findings), findings };
}

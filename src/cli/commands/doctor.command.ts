import { redactConnectionString } from '../../config/connection-string.js';
import { LIMITS } from '../../config/limits.js';
import { collectDoctorFacts } from '../../diagnostics/collect-doctor-facts.js';
import {
  DEFAULT_DOCTOR_THRESHOLDS,
  diagnose,
  hasProblems,
  type DoctorThresholds,
} from '../../diagnostics/doctor-findings.js';
import { QueueValidationError } from '../../errors/queue-validation.error.js';
import {
  CLI_APPLICATION_NAME,
  CLI_EXIT,
  printJson,
  targetTable,
  type CliCommand,
  type CliCommandInput,
} from '../cli-command.js';
import { doctorJson, doctorLines } from '../doctor-report.js';

/**
 * The doctor's thresholds from its options; pure.
 * @throws {QueueValidationError} naming the option and the rule.
 */
export function doctorThresholds(input: CliCommandInput): DoctorThresholds {
  return {
    leaseGraceSeconds: seconds(input, 'lease-grace', DEFAULT_DOCTOR_THRESHOLDS.leaseGraceSeconds),
    maxHorizonAgeSeconds: seconds(
      input,
      'max-horizon-age',
      DEFAULT_DOCTOR_THRESHOLDS.maxHorizonAgeSeconds,
    ),
  };
}

function seconds(input: CliCommandInput, name: string, fallback: number): number {
  const text = input.options[name];
  if (typeof text !== 'string') return fallback;
  const value = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  const { min, max } = LIMITS.threshold;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new QueueValidationError(
      `--${name}`,
      `must be a whole number of seconds from ${min} to ${max} (got '${text}')`,
    );
  }
  return value;
}

/** `doctor`: what is wrong with the queue table and what to do about it; changes nothing. */
export const doctorCommand: CliCommand = {
  name: 'doctor',
  summary:
    'Check schema drift, indexes, vacuum, the xmin horizon and stuck leases; changes nothing',
  options: [
    {
      name: 'lease-grace',
      type: 'string',
      valueName: '<seconds>',
      summary: `A lease expired longer ago than this and not reaped is a problem (default ${DEFAULT_DOCTOR_THRESHOLDS.leaseGraceSeconds})`,
    },
    {
      name: 'max-horizon-age',
      type: 'string',
      valueName: '<seconds>',
      summary: `A transaction holding back vacuum this long is a problem (default ${DEFAULT_DOCTOR_THRESHOLDS.maxHorizonAgeSeconds})`,
    },
  ],
  async run(target, output, input) {
    const thresholds = doctorThresholds(input);
    const facts = await collectDoctorFacts({
      ...target,
      applicationName: CLI_APPLICATION_NAME,
      leaseGraceSeconds: thresholds.leaseGraceSeconds,
    });
    const findings = diagnose(facts, thresholds);
    const where = `${targetTable(target)} on ${redactConnectionString(target.connectionString)}`;
    if (input.json) {
      printJson(output, doctorJson(`${facts.schema}.${facts.table}`, findings));
    } else {
      for (const line of doctorLines(where, findings)) output.out(line);
    }
    return hasProblems(findings) ? CLI_EXIT.findings : CLI_EXIT.ok;
  },
};

import { type HealthConfig } from '../config/queue-config.js';
import {
  horizonAgeSeconds,
  type HorizonFacts,
  type TableVacuumFacts,
} from '../store/diagnostics-rows.js';

/** What the `vacuum` check reports: numbers only, no host, role, application or statement. */
export interface VacuumHealthDetails {
  /** Seconds the oldest transaction holding back vacuum has been open; 0 when none does. */
  readonly horizonAgeSeconds: number;
  /** What holds it: a session (and its state) or a prepared transaction. */
  readonly horizonHeldBy?: string;
  readonly deadTuples: number | null;
  readonly liveTuples: number | null;
  /**
   * Sessions of other roles this role cannot inspect (without `pg_read_all_stats`): the horizon
   * age leaves them out.
   */
  readonly hiddenSessions?: number;
}

/** The facts as the `vacuum` check reports them, and the limits they cross. */
export function judgeVacuum(
  facts: { readonly horizon: HorizonFacts; readonly table: TableVacuumFacts | null },
  limits: HealthConfig['vacuum'],
): { details: VacuumHealthDetails; crossed: string[] } {
  const age = Math.floor(horizonAgeSeconds(facts.horizon));
  const oldest = facts.horizon.holders
    .filter((holder) => holder.ageSeconds !== null)
    .sort((a, b) => (b.ageSeconds ?? 0) - (a.ageSeconds ?? 0))[0];
  const heldBy =
    oldest === undefined
      ? undefined
      : oldest.source === 'prepared'
        ? 'a prepared transaction'
        : `a session (${oldest.state ?? 'state unknown'})`;
  const { visibility } = facts.horizon;
  const details: VacuumHealthDetails = {
    horizonAgeSeconds: age,
    ...(heldBy === undefined ? {} : { horizonHeldBy: heldBy }),
    deadTuples: facts.table?.deadTuples ?? null,
    liveTuples: facts.table?.liveTuples ?? null,
    ...(visibility.seesAll ? {} : { hiddenSessions: visibility.hiddenSessions }),
  };
  const crossed: string[] = [];
  if (limits.maxHorizonAgeSeconds !== false && age > limits.maxHorizonAgeSeconds) {
    crossed.push(
      `vacuum held back by ${heldBy ?? 'a transaction'} open ${age} s > maxHorizonAgeSeconds ${limits.maxHorizonAgeSeconds}`,
    );
  }
  const dead = facts.table?.deadTuples;
  if (limits.maxDeadTuples !== false && dead !== undefined && dead > limits.maxDeadTuples) {
    crossed.push(`dead tuples ${dead} > maxDeadTuples ${limits.maxDeadTuples}`);
  }
  return { details, crossed };
}

/**
 * Whether autovacuum still has work to do on a table, by its own rule (the thresholds of
 * relation_needs_vacanalyze in PostgreSQL's autovacuum.c), so a depth scenario can start timing
 * once a freshly loaded backlog has been vacuumed and analyzed rather than while it is.
 */

export interface TableActivity {
  readonly name: string;
  /** pg_class.reltuples; -1 when never vacuumed nor analyzed. */
  readonly reltuples: number;
  readonly deadTuples: number;
  readonly insertedSinceVacuum: number;
  readonly modifiedSinceAnalyze: number;
  /** pg_class.reloptions, e.g. `autovacuum_enabled=false`; null when none. */
  readonly reloptions: readonly string[] | null;
}

/** The server's autovacuum settings, by their postgresql.conf names. */
export type AutovacuumSettings = Readonly<Record<string, number | boolean>>;

/** What autovacuum would do to the table now: nothing, or vacuum and/or analyze it. */
export function autovacuumDue(
  table: TableActivity,
  settings: AutovacuumSettings,
): { vacuum: boolean; analyze: boolean } {
  const options = new Map(
    (table.reloptions ?? []).map((option) => {
      const at = option.indexOf('=');
      return [option.slice(0, at), option.slice(at + 1)] as const;
    }),
  );
  if (settings.autovacuum === false || options.get('autovacuum_enabled') === 'false')
    return { vacuum: false, analyze: false };
  // A table's own setting wins over the server's.
  const setting = (name: string): number => {
    const own = options.get(name);
    return own !== undefined ? Number(own) : Number(settings[name] ?? NaN);
  };
  const tuples = Math.max(0, table.reltuples);
  const threshold = (base: string, scale: string) => setting(base) + setting(scale) * tuples;
  const insertThreshold = setting('autovacuum_vacuum_insert_threshold');
  return {
    vacuum:
      table.deadTuples >
        threshold('autovacuum_vacuum_threshold', 'autovacuum_vacuum_scale_factor') ||
      // -1 turns insert-driven vacuums off.
      (insertThreshold !== -1 &&
        table.insertedSinceVacuum >
          threshold('autovacuum_vacuum_insert_threshold', 'autovacuum_vacuum_insert_scale_factor')),
    analyze:
      table.modifiedSinceAnalyze >
      threshold('autovacuum_analyze_threshold', 'autovacuum_analyze_scale_factor'),
  };
}

/** What bench/pinned-horizon.ts runs: offered rate, phase lengths and processor settings. */

export type HorizonPhaseName = 'clean' | 'pinned' | 'after';

export interface HorizonPhase {
  readonly name: HorizonPhaseName;
  readonly seconds: number;
  /** Another transaction holds an xid through this phase, so the xmin horizon cannot move. */
  readonly pinned: boolean;
}

export interface HorizonOptions {
  /** Which preset chose the figures: 'issue17', 'quick', 'standard' or 'custom' (from env). */
  readonly preset: 'issue17' | 'quick' | 'standard' | 'custom';
  readonly rate: number;
  readonly phases: readonly HorizonPhase[];
  readonly settings: readonly string[];
}

const ORDER: readonly HorizonPhaseName[] = ['clean', 'pinned', 'after'];

const phasesOf = (clean: number, pinned: number, after: number): HorizonPhase[] => [
  { name: 'clean', seconds: clean, pinned: false },
  { name: 'pinned', seconds: pinned, pinned: true },
  { name: 'after', seconds: after, pinned: false },
];

/**
 * The issue's goal: 2,000/s offered, the defaults, a 5-minute pin between 60 s and 120 s clean;
 * and the same with `removeOnComplete`, whose table holds only the work to do, so its size
 * shows what the pin alone leaves behind.
 */
export const ISSUE17: HorizonOptions = {
  preset: 'issue17',
  rate: 2_000,
  phases: phasesOf(60, 300, 120),
  settings: ['defaults', 'remove'],
};

/**
 * `HORIZON_PHASES="clean:60,pinned:300,after:120"`: all three phases, in that order, since the
 * recovery figures need a clean phase to compare with and an after phase to watch.
 */
export function parsePhases(text: string): HorizonPhase[] {
  const parts = text.split(',').map((part) => part.trim());
  if (parts.length !== ORDER.length) {
    throw new Error(`HORIZON_PHASES needs clean:S,pinned:S,after:S, got "${text}"`);
  }
  const seconds = parts.map((part, index) => {
    const [name, value, ...rest] = part.split(':');
    const number = Number(value);
    if (name !== ORDER[index] || rest.length > 0 || !Number.isFinite(number) || number <= 0) {
      throw new Error(
        `HORIZON_PHASES part ${index + 1} must be ${ORDER[index]}:<seconds > 0>, got "${part}"`,
      );
    }
    return number;
  });
  return phasesOf(seconds[0]!, seconds[1]!, seconds[2]!);
}

/**
 * `--issue17` fixes rate, phases and settings, so it refuses the variables that would change
 * them rather than quietly measuring something other than the issue's setup.
 */
export function horizonOptions(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  knownSettings: readonly string[],
): HorizonOptions {
  const issue17 = argv.includes('--issue17');
  const quick = argv.includes('--quick');
  if (issue17) {
    const conflicting = [
      ...(quick ? ['--quick'] : []),
      ...['HORIZON_RATE', 'HORIZON_PHASES', 'HORIZON_SETTINGS'].filter(
        (name) => env[name] !== undefined,
      ),
    ];
    if (conflicting.length > 0) {
      throw new Error(`--issue17 fixes its own setup; drop ${conflicting.join(', ')}`);
    }
    return ISSUE17;
  }
  if (quick && env.HORIZON_PHASES !== undefined) {
    throw new Error('--quick and HORIZON_PHASES both set the phases; use one');
  }
  const rate = Number(env.HORIZON_RATE ?? 3_000);
  if (!Number.isFinite(rate) || rate <= 0) {
    throw new Error(`HORIZON_RATE must be a positive number, got "${env.HORIZON_RATE}"`);
  }
  const settings = (env.HORIZON_SETTINGS ?? knownSettings.join(','))
    .split(',')
    .map((s) => s.trim());
  const unknown = settings.filter((s) => !knownSettings.includes(s));
  if (unknown.length > 0 || settings.length === 0) {
    throw new Error(
      `HORIZON_SETTINGS: unknown ${unknown.join(', ')}; choose from ${knownSettings.join(', ')}`,
    );
  }
  const phases =
    env.HORIZON_PHASES !== undefined
      ? parsePhases(env.HORIZON_PHASES)
      : quick
        ? phasesOf(20, 30, 30)
        : phasesOf(60, 90, 120);
  const custom = ['HORIZON_RATE', 'HORIZON_PHASES', 'HORIZON_SETTINGS'].some(
    (name) => env[name] !== undefined,
  );
  return { preset: custom ? 'custom' : quick ? 'quick' : 'standard', rate, phases, settings };
}

import { describe, expect, it } from '@jest/globals';
import { horizonOptions, ISSUE17, parsePhases } from '../../bench/horizon-options.js';

const KNOWN = ['defaults', 'tuned', 'slots-only', 'remove'];

describe('horizonOptions', () => {
  it('runs the issue 17 goal with --issue17: 2,000/s, defaults and remove, 60 / 300 / 120 s', () => {
    const options = horizonOptions(['node', 'bench', '--issue17'], {}, KNOWN);
    expect(options).toBe(ISSUE17);
    expect(options.rate).toBe(2_000);
    expect(options.settings).toEqual(['defaults', 'remove']);
    expect(options.phases.map((p) => [p.name, p.seconds, p.pinned])).toEqual([
      ['clean', 60, false],
      ['pinned', 300, true],
      ['after', 120, false],
    ]);
  });

  it('refuses what would change the issue 17 setup', () => {
    expect(() => horizonOptions(['--issue17'], { HORIZON_RATE: '3000' }, KNOWN)).toThrow(
      /HORIZON_RATE/,
    );
    expect(() => horizonOptions(['--issue17', '--quick'], {}, KNOWN)).toThrow(/--quick/);
    expect(() =>
      horizonOptions(['--issue17'], { HORIZON_PHASES: 'clean:1,pinned:1,after:1' }, KNOWN),
    ).toThrow(/HORIZON_PHASES/);
  });

  it('keeps the standard and quick runs as they were', () => {
    const standard = horizonOptions([], {}, KNOWN);
    expect(standard.preset).toBe('standard');
    expect(standard.rate).toBe(3_000);
    expect(standard.settings).toEqual(KNOWN);
    expect(standard.phases.map((p) => p.seconds)).toEqual([60, 90, 120]);
    expect(horizonOptions(['--quick'], {}, KNOWN).phases.map((p) => p.seconds)).toEqual([
      20, 30, 30,
    ]);
  });

  it('takes rate, phases and settings from the environment', () => {
    const options = horizonOptions(
      [],
      {
        HORIZON_RATE: '2000',
        HORIZON_PHASES: 'clean:20,pinned:40,after:30',
        HORIZON_SETTINGS: 'defaults,tuned',
      },
      KNOWN,
    );
    expect(options.preset).toBe('custom');
    expect(options.rate).toBe(2_000);
    expect(options.settings).toEqual(['defaults', 'tuned']);
    expect(options.phases.map((p) => p.seconds)).toEqual([20, 40, 30]);
  });

  it('rejects unknown settings, a bad rate and --quick with HORIZON_PHASES', () => {
    expect(() => horizonOptions([], { HORIZON_SETTINGS: 'defaults,fast' }, KNOWN)).toThrow(
      /unknown fast/,
    );
    expect(() => horizonOptions([], { HORIZON_RATE: 'lots' }, KNOWN)).toThrow(/HORIZON_RATE/);
    expect(() =>
      horizonOptions(['--quick'], { HORIZON_PHASES: 'clean:1,pinned:1,after:1' }, KNOWN),
    ).toThrow(/--quick/);
  });
});

describe('parsePhases', () => {
  it('needs clean, pinned and after in that order, each with positive seconds', () => {
    expect(parsePhases('clean:60, pinned:300 ,after:120').map((p) => p.seconds)).toEqual([
      60, 300, 120,
    ]);
    expect(() => parsePhases('pinned:300,clean:60,after:120')).toThrow(/part 1/);
    expect(() => parsePhases('clean:60,pinned:300')).toThrow(/clean:S/);
    expect(() => parsePhases('clean:60,pinned:0,after:120')).toThrow(/part 2/);
    expect(() => parsePhases('clean:60,pinned:x,after:120')).toThrow(/part 2/);
  });
});

import { describe, expect, it } from '@jest/globals';
import { FailureRun } from '../../src/async/failure-run.js';

describe('FailureRun', () => {
  it('warns once per run of failures, says once when it works again, and builds no text it does not write', () => {
    const lines: string[] = [];
    const run = new FailureRun({
      log: (message) => lines.push(`log ${message}`),
      warn: (message) => lines.push(`warn ${message}`),
    });
    let built = 0;
    const warning = (n: number) => () => {
      built++;
      return `failed ${n}`;
    };
    run.succeeded('back');
    expect(run.inRun).toBe(false);
    run.failed(warning(1));
    run.failed(warning(2));
    run.failed(warning(3));
    expect(run.inRun).toBe(true);
    run.succeeded('back');
    run.succeeded('back');
    run.failed(warning(4));
    expect(lines).toEqual(['warn failed 1', 'log back', 'warn failed 4']);
    expect(built).toBe(2);
  });
});

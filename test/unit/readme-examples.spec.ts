import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from '@jest/globals';
import { readmeBlocks } from '../support/readme-files.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

/**
 * The README's worked examples that integration tests run live in `examples/` as files, so the
 * tests import them; the README shows each as `src/examples/<name>` of the user's project. Both
 * must say the same, or the README would show code that no test ran.
 */
describe('README examples', () => {
  const blocks = new Map(
    readmeBlocks(readFileSync(join(root, 'README.md'), 'utf8'))
      .filter((block) => block.file?.startsWith('src/examples/'))
      .map((block) => [block.file!.slice('src/examples/'.length), block.content]),
  );

  it.each(readdirSync(join(root, 'examples')))(
    'examples/%s is shown in the README as is',
    (name) => {
      expect(blocks.has(name)).toBe(true);
      expect(blocks.get(name)).toBe(readFileSync(join(root, 'examples', name), 'utf8'));
    },
  );
});

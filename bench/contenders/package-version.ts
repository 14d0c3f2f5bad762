import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/**
 * The version of the package `name` as installed, read from its package.json. A package with an
 * exports map that leaves package.json out (graphile-worker 0.18) cannot be asked for it by
 * name, so this resolves the package's entry and walks up to the package.json carrying `name`.
 */
export function installedVersion(name: string, from: string): string {
  let dir = dirname(createRequire(from).resolve(name));
  for (;;) {
    try {
      const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (manifest.name === name && manifest.version !== undefined) return manifest.version;
    } catch {
      // No package.json at this level (or not this package's): keep walking up.
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no package.json found for ${name}`);
    dir = parent;
  }
}

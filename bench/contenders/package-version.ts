import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/**
 * The version of the package `name` as installed, read from its package.json. A package with an
 * exports map that leaves package.json out (graphile-worker 0.18) cannot be asked for it by
 * name, so this resolves the package's entry and walks up to the first package.json naming a
 * package (one under dist/ may only set its module type; an npm alias keeps the real name).
 */
export function installedVersion(name: string, from: string): string {
  let dir = dirname(createRequire(from).resolve(name));
  for (;;) {
    try {
      const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (manifest.name !== undefined && manifest.version !== undefined) return manifest.version;
    } catch {
      // No package.json at this level: keep walking up.
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no package.json found for ${name}`);
    dir = parent;
  }
}

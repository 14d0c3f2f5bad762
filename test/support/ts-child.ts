import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import esbuild from 'esbuild';

/**
 * `node` arguments that run one TypeScript entry of this repository (a worker, a CLI) in a child
 * process, for `spawn('node', tsChildArgs('test/support/crash-worker.ts'), { cwd: root })`.
 *
 * The entry and the repository files it imports are bundled into one ES module, packages left
 * as imports, once per test process and entry. Under `node --import tsx` every module a child
 * loads, Nest's and TypeORM's included, passes through tsx's loader hooks, which cost 2 to 3 s of
 * start-up per process on two cores; the fault and crash suites start dozens of processes, many
 * one after another. esbuild is what tsx transpiles with, so the child runs the same code, and
 * the source map keeps its stack traces pointing at the .ts lines.
 *
 * Not for an entry that reads `import.meta.url` (the bundle lives elsewhere): keep those on tsx.
 */
export function tsChildArgs(entry: string, nodeArgs: readonly string[] = []): string[] {
  let bundle = bundles.get(entry);
  if (bundle === undefined) {
    bundle = build(entry);
    bundles.set(entry, bundle);
  }
  return ['--enable-source-maps', ...nodeArgs, bundle];
}

const root = fileURLToPath(new URL('../..', import.meta.url));
// Inside the repository, so the bundle's package imports resolve from its node_modules.
const outDir = join(root, '.tmp', 'children');
const bundles = new Map<string, string>();

function build(entry: string): string {
  const result = esbuild.buildSync({
    absWorkingDir: root,
    entryPoints: [entry],
    bundle: true,
    packages: 'external',
    platform: 'node',
    format: 'esm',
    target: 'node20',
    // Nest names providers and log contexts after classes: keep them as written.
    keepNames: true,
    sourcemap: 'inline',
    write: false,
    logLevel: 'silent',
  });
  const text = result.outputFiles[0]!.text;
  const hash = createHash('sha256').update(text).digest('hex').slice(0, 16);
  const path = join(outDir, `${basename(entry, '.ts')}-${hash}.mjs`);
  if (!existsSync(path)) {
    mkdirSync(outDir, { recursive: true });
    // Jest's workers may build the same entry at once: each writes its own file, then renames.
    const partial = `${path}.${process.pid}.partial`;
    writeFileSync(partial, text);
    renameSync(partial, path);
  }
  return path;
}

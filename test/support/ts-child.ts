import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
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
 * Not for an entry that reads `import.meta.url` (the bundle lives elsewhere): see
 * {@link tsChildArgsKeepingUrls}.
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

/**
 * {@link tsChildArgs} for an entry whose modules read `import.meta.url` (to find a folder, a
 * package.json, or to `createRequire`): each module of the bundle keeps its own source file's
 * URL there. Asynchronous, because esbuild runs plugins in its asynchronous build only.
 *
 * `sourceMap: false` leaves the source map out, for a child whose memory is measured: an inline
 * map is part of the module's source text, which V8 keeps on the heap (about 4.5 MB more live
 * heap for the bench's worker, and V8 lets the heap grow to a multiple of what is live), and a
 * production build does not inline one.
 */
export async function tsChildArgsKeepingUrls(
  entry: string,
  nodeArgs: readonly string[] = [],
  { sourceMap = true }: { readonly sourceMap?: boolean } = {},
): Promise<string[]> {
  const key = `${entry} (own URLs${sourceMap ? '' : ', no map'})`;
  let bundle = bundles.get(key);
  if (bundle === undefined) {
    const result = await esbuild.build({
      ...options(entry),
      ...(sourceMap ? {} : { sourcemap: false }),
      plugins: [ownImportMetaUrl],
    });
    bundle = write(entry, result.outputFiles[0]!.text);
    bundles.set(key, bundle);
  }
  return [...(sourceMap ? ['--enable-source-maps'] : []), ...nodeArgs, bundle];
}

// A regular expression, so that this file, bundled itself, keeps its pattern as written.
const IMPORT_META_URL = /\bimport\.meta\.url\b/g;

/** Replaces `import.meta.url` in each repository .ts file with that file's own URL. */
const ownImportMetaUrl: esbuild.Plugin = {
  name: 'own-import-meta-url',
  setup(build) {
    build.onLoad({ filter: /\.ts$/ }, (args) => {
      if (args.path.includes('/node_modules/')) return undefined;
      const source = readFileSync(args.path, 'utf8');
      if (source.search(IMPORT_META_URL) === -1) return undefined;
      const url = JSON.stringify(pathToFileURL(args.path).href);
      return { contents: source.replace(IMPORT_META_URL, url), loader: 'ts' };
    });
  },
};

function options(entry: string): esbuild.BuildOptions & { write: false } {
  return {
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
  };
}

function build(entry: string): string {
  return write(entry, esbuild.buildSync(options(entry)).outputFiles[0]!.text);
}

function write(entry: string, text: string): string {
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

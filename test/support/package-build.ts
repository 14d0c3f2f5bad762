import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const exec = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url));
const builds = join(root, '.tmp', 'package-build');

/**
 * The package as `npm run build` emits it (`tsc -p tsconfig.build.json`: JavaScript and .d.ts),
 * built once per state of its sources and shared by the specs that need it (the consumer's
 * packed tarball, the demo's dist/), where each ran the same build of its own. Resolves with the
 * folder of the emitted files, under .tmp/package-build/<hash of what the build reads>/.
 *
 * Jest runs those specs side by side: the first takes a lock (an atomic mkdir) and builds, the
 * other waits for the folder; a build that died leaves no folder, and its lock is taken over.
 */
export async function packageBuild(): Promise<string> {
  const out = join(builds, buildKey());
  const lock = `${out}.lock`;
  mkdirSync(builds, { recursive: true });
  const deadline = Date.now() + 300_000;
  for (;;) {
    if (existsSync(out)) return out;
    if (takeLock(lock)) break;
    if (Date.now() > deadline) throw new Error(`no build appeared in ${out} in 5 minutes`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  try {
    const partial = `${out}.${process.pid}.partial`;
    rmSync(partial, { recursive: true, force: true });
    await exec(
      'node',
      ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json', '--outDir', partial],
      { cwd: root, maxBuffer: 64 * 1024 * 1024 },
    ).catch((error: { stdout?: string; message: string }) => {
      throw new Error(`the package build failed: ${error.message}\n${error.stdout ?? ''}`, {
        cause: error,
      });
    });
    renameSync(partial, out);
    return out;
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

/** A lock whose holder is gone (its process no longer runs) is taken over. */
function takeLock(lock: string): boolean {
  try {
    mkdirSync(lock);
    mkdirSync(join(lock, String(process.pid)));
    return true;
  } catch {
    const holders = existsSync(lock) ? readdirSync(lock) : [];
    if (holders.length === 1 && !running(Number(holders[0]))) {
      rmSync(lock, { recursive: true, force: true });
    }
    return false;
  }
}

function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Every file the build reads that this repository holds, and the compiler's version. */
function buildKey(): string {
  const hash = createHash('sha256');
  const files = [
    ...listFiles(join(root, 'src')),
    join(root, 'tsconfig.json'),
    join(root, 'tsconfig.build.json'),
    join(root, 'package-lock.json'),
    join(root, 'node_modules', 'typescript', 'package.json'),
  ];
  for (const file of files) {
    hash.update(relative(root, file)).update('\0').update(readFileSync(file)).update('\0');
  }
  return hash.digest('hex').slice(0, 16);
}

function listFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .sort((a, b) => (a.name < b.name ? -1 : 1))
    .flatMap((entry) =>
      entry.isDirectory() ? listFiles(join(dir, entry.name)) : [join(dir, entry.name)],
    );
}

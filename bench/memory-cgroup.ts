/**
 * A memory cgroup with a limit, for running the `rss.1m` worker the way a container runs it. Node
 * sizes its default heap from the memory it may use, the cgroup's limit when it has one: a
 * worker in a 2 GiB pod gets a heap limit of about 1 GiB where this 24 GiB machine gives 4 GiB,
 * and V8 lets the heap grow to a smaller multiple of what is live before it collects. Needs root
 * and a writable memory controller (cgroup v1 or v2); `openMemoryCgroup` says why not otherwise.
 */
import { mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Where this process's memory cgroup is, from `/proc/self/cgroup`. */
export interface MemoryCgroupPlace {
  readonly version: 1 | 2;
  /** The cgroup's folder under the mount, with a leading slash. */
  readonly path: string;
}

/**
 * Reads `/proc/self/cgroup`: a v1 line names its controllers (`4:memory:/a/b`), the v2 line has
 * none (`0::/a/b`). A v1 memory line wins, as that hierarchy is where the memory limit is set;
 * the v2 line counts only when `v2Controllers` (`cgroup.controllers` at the v2 mount) lists
 * memory.
 */
export function memoryCgroupPlace(
  procSelfCgroup: string,
  v2Controllers: string | undefined,
): MemoryCgroupPlace | undefined {
  const lines = procSelfCgroup
    .split('\n')
    .map((line) => /^\d+:([^:]*):(.*)$/.exec(line.trim()))
    .filter((match): match is RegExpExecArray => match !== null);
  const v1 = lines.find((match) => match[1]!.split(',').includes('memory'));
  if (v1 !== undefined) return { version: 1, path: v1[2]! };
  const v2 = lines.find((match) => match[1] === '');
  if (v2 !== undefined && (v2Controllers ?? '').split(/\s+/).includes('memory'))
    return { version: 2, path: v2[2]! };
  return undefined;
}

/** A cgroup of our own, limited, that a child joins before it starts. */
export interface MemoryCgroup {
  /** `[command, args]` that run `node nodeArgs…` inside the cgroup. */
  command(nodeArgs: readonly string[]): [string, string[]];
  remove(): void;
}

const MOUNT = '/sys/fs/cgroup';

/** A new cgroup under this process's own, limited to `limitBytes`, or why there cannot be one. */
export function openMemoryCgroup(limitBytes: number, name: string): MemoryCgroup | string {
  let place: MemoryCgroupPlace | undefined;
  try {
    place = memoryCgroupPlace(
      readFileSync('/proc/self/cgroup', 'utf8'),
      readOptional(join(MOUNT, 'cgroup.controllers')),
    );
  } catch (error) {
    return `cannot read /proc/self/cgroup: ${(error as Error).message}`;
  }
  if (place === undefined) return 'no memory cgroup controller on this machine';
  const dir =
    place.version === 1 ? join(MOUNT, 'memory', place.path, name) : join(MOUNT, place.path, name);
  try {
    mkdirSync(dir);
    writeFileSync(
      join(dir, place.version === 1 ? 'memory.limit_in_bytes' : 'memory.max'),
      String(limitBytes),
    );
  } catch (error) {
    try {
      rmdirSync(dir);
    } catch {
      // It was not made.
    }
    return `cannot make a memory cgroup at ${dir}: ${(error as Error).message}`;
  }
  return {
    command: (nodeArgs) => [
      'bash',
      // The shell joins the cgroup, then becomes node: everything node allocates is charged there.
      ['-c', 'echo $$ > "$0/cgroup.procs" && exec node "$@"', dir, ...nodeArgs],
    ],
    remove: () => rmdirSync(dir),
  };
}

function readOptional(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

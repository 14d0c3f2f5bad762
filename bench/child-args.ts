/**
 * `node` arguments that run a bench entry (`bench/run-contender.ts`, `bench/flow-worker.ts`) in a
 * child process: under tsx, as `npm run bench` runs, or, with BENCH_BUNDLED_CHILDREN=1 (set by
 * the bench's smoke test), from an esbuild bundle of the entry, which starts in a fraction of
 * tsx's 2 to 3 s per process (see test/support/ts-child.ts). The code run is the same.
 */
export async function benchChildArgs(entry: string, nodeArgs: string[] = []): Promise<string[]> {
  if (process.env.BENCH_BUNDLED_CHILDREN !== '1') return ['--import', 'tsx', ...nodeArgs, entry];
  const { tsChildArgsKeepingUrls } = await import('../test/support/ts-child.js');
  return tsChildArgsKeepingUrls(entry, nodeArgs);
}

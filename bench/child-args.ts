/**
 * `node` arguments that run a bench entry (`bench/run-contender.ts`, `bench/flow-worker.ts`) in a
 * child process: from an esbuild bundle of the entry, the repository's TypeScript compiled to one
 * JavaScript module (packages stay imports), so every contender runs compiled JavaScript, as
 * production runs. Under tsx's loader instead, the worker's RSS counted tsx's compiled sources
 * and source maps as well, and each child took 2 to 3 s to start. `BENCH_TSX_CHILDREN=1` runs
 * them under tsx, to compare. `sourceMap: false` for a child whose memory is measured (see
 * `tsChildArgsKeepingUrls`).
 */
export async function benchChildArgs(
  entry: string,
  nodeArgs: string[] = [],
  options: { readonly sourceMap?: boolean } = {},
): Promise<string[]> {
  if (process.env.BENCH_TSX_CHILDREN === '1') return ['--import', 'tsx', ...nodeArgs, entry];
  const { tsChildArgsKeepingUrls } = await import('../test/support/ts-child.js');
  return tsChildArgsKeepingUrls(entry, nodeArgs, options);
}

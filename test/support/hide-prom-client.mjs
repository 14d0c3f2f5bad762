/**
 * Module hooks for test/support/metrics-child.ts: prom-client cannot be found, as in an
 * application that never installed it, and each attempt to resolve it is reported on the port
 * the child gave, so the child can tell whether anything tried.
 */
let port;

export function initialize(data) {
  port = data.port;
}

export async function resolve(specifier, context, nextResolve) {
  if (specifier === 'prom-client' || specifier.startsWith('prom-client/')) {
    port.postMessage(specifier);
    const error = new Error(`Cannot find package '${specifier}'`);
    error.code = 'ERR_MODULE_NOT_FOUND';
    throw error;
  }
  return nextResolve(specifier, context);
}

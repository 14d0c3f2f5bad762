import { readFile } from 'node:fs/promises';
import { type IncomingHttpHeaders } from 'node:http';
import { createRequire } from 'node:module';
import { DASHBOARD_SCRIPT } from './assets/dashboard-script.js';
import { DASHBOARD_STYLE } from './assets/dashboard-style.js';

/** The request as the dashboard reads it: Express' (the platform it is served on). */
export interface DashboardHttpRequest {
  readonly headers: IncomingHttpHeaders;
  readonly method?: string;
  readonly url?: string;
  readonly originalUrl?: string;
  readonly protocol?: string;
  readonly secure?: boolean;
  readonly body?: unknown;
  readonly user?: unknown;
  readonly readable?: boolean;
  [Symbol.asyncIterator]?(): AsyncIterator<unknown>;
}

/** The response as the dashboard writes it: Node's, which Express' extends. */
export interface DashboardHttpResponse {
  statusCode: number;
  setHeader(name: string, value: string | readonly string[]): unknown;
  end(body?: string | Buffer): unknown;
}

/**
 * The headers of every dashboard response. Scripts and styles only from the dashboard's own
 * routes (uPlot sets its sizes through the CSSOM, which `style-src` does not govern), forms
 * only to itself, never in a frame, and never cached.
 */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'same-origin',
  'Cache-Control': 'no-store',
  'X-Frame-Options': 'DENY',
};

/** Writes a whole response with the security headers. */
export function sendResponse(
  response: DashboardHttpResponse,
  status: number,
  contentType: string,
  body: string | Buffer,
  headers: Readonly<Record<string, string>> = {},
): void {
  response.statusCode = status;
  for (const [name, value] of Object.entries({ ...SECURITY_HEADERS, ...headers })) {
    response.setHeader(name, value);
  }
  response.setHeader('Content-Type', contentType);
  response.end(body);
}

/** A 303 to `location` (a path of the dashboard), with the security headers. */
export function redirect(response: DashboardHttpResponse, location: string): void {
  sendResponse(response, 303, 'text/plain; charset=utf-8', '', { Location: location });
}

/** The request's path (without the query), as the client sent it. */
export function pathOf(request: DashboardHttpRequest): string {
  const url = request.originalUrl ?? request.url ?? '/';
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}

/**
 * The dashboard's base path as the client sees it: `/<path>` with whatever the application puts
 * in front (a global prefix), read from the request's own URL.
 */
export function basePathOf(requestPath: string, path: string): string {
  const mount = `/${path}`;
  let from = 0;
  for (;;) {
    const at = requestPath.indexOf(mount, from);
    if (at === -1) return mount;
    const after = requestPath.charAt(at + mount.length);
    if (after === '' || after === '/') return requestPath.slice(0, at + mount.length);
    from = at + 1;
  }
}

/**
 * Where an action goes back to: `back` when it is a path of the dashboard (never another site:
 * no scheme, no `//`), else the dashboard's root; without the previous action's `flash`.
 */
export function safeBack(base: string, back: string | undefined): string {
  const safe =
    back !== undefined &&
    (back === base || back.startsWith(`${base}/`) || back.startsWith(`${base}?`)) &&
    !back.includes('//') &&
    !back.includes('\\') &&
    ![...back].some((character) => character < ' ')
      ? back
      : base;
  const url = new URL(safe, 'http://dashboard.invalid');
  url.searchParams.delete('flash');
  return `${url.pathname}${url.search}`;
}

/** {@link safeBack} with `flash` in its query string. */
export function backWithFlash(base: string, back: string | undefined, flash: string): string {
  const url = new URL(safeBack(base, back), 'http://dashboard.invalid');
  url.searchParams.set('flash', flash);
  return `${url.pathname}${url.search}`;
}

const MAX_FORM_BYTES = 16 * 1024;

/**
 * The urlencoded form of a POST: from the body parser when the application runs one (Nest's
 * Express adapter does by default), else read from the request stream.
 */
export async function formOf(request: DashboardHttpRequest): Promise<Record<string, string>> {
  const body = request.body;
  if (body !== null && typeof body === 'object' && !Buffer.isBuffer(body)) {
    const form: Record<string, string> = {};
    for (const [name, value] of Object.entries(body as Record<string, unknown>)) {
      if (typeof value === 'string') form[name] = value;
    }
    return form;
  }
  let text = typeof body === 'string' ? body : Buffer.isBuffer(body) ? body.toString('utf8') : '';
  if (text === '' && request.readable === true && request[Symbol.asyncIterator] !== undefined) {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of request as AsyncIterable<Buffer | string>) {
      const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      size += buffer.length;
      if (size > MAX_FORM_BYTES) break;
      chunks.push(buffer);
    }
    text = Buffer.concat(chunks).toString('utf8');
  }
  return Object.fromEntries(new URLSearchParams(text));
}

/** The dashboard's static files, by name, with their content type. */
export interface DashboardAsset {
  readonly contentType: string;
  readonly load: () => Promise<string | Buffer>;
}

const requireFromHere = createRequire(import.meta.url);

function packageFile(specifier: string): () => Promise<Buffer> {
  let loaded: Promise<Buffer> | undefined;
  // Read once, on first use; resolved from this package's own dependency, wherever npm put it.
  return () => (loaded ??= readFile(requireFromHere.resolve(specifier)));
}

export const DASHBOARD_ASSETS: Readonly<Record<string, DashboardAsset>> = {
  'uPlot.iife.min.js': {
    contentType: 'text/javascript; charset=utf-8',
    load: packageFile('uplot/dist/uPlot.iife.min.js'),
  },
  'uPlot.min.css': {
    contentType: 'text/css; charset=utf-8',
    load: packageFile('uplot/dist/uPlot.min.css'),
  },
  'dashboard.js': {
    contentType: 'text/javascript; charset=utf-8',
    load: () => Promise.resolve(DASHBOARD_SCRIPT),
  },
  'dashboard.css': {
    contentType: 'text/css; charset=utf-8',
    load: () => Promise.resolve(DASHBOARD_STYLE),
  },
};

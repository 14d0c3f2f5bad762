import { randomBytes, timingSafeEqual } from 'node:crypto';

/*
 * Cross-site request forgery, two locks. A double-submit cookie: a random token in an HttpOnly,
 * SameSite=Strict cookie and the same token in each form; a POST whose two copies differ is
 * refused. Nothing is kept on the server, so any replica checks any form without a shared
 * secret. And the browser's own word: a POST whose `Origin` is another host, or whose
 * `Sec-Fetch-Site` is not same-origin, is refused even with a token (a sibling subdomain can
 * plant a cookie; it cannot forge those headers).
 */

/** The cookie holding the token. */
export const CSRF_COOKIE = 'fcq_dashboard_csrf';
/** The form field holding the token. */
export const CSRF_FIELD = '_csrf';

const TOKEN = /^[A-Za-z0-9_-]{43}$/;

/** A fresh token: 32 random bytes, base64url. */
export function newCsrfToken(): string {
  return randomBytes(32).toString('base64url');
}

/** Whether `value` has a token's shape (a cookie anyone could have set to anything). */
export function isCsrfToken(value: string | undefined): value is string {
  return value !== undefined && TOKEN.test(value);
}

/** Whether the form's token is the cookie's, compared in constant time; false when either is missing. */
export function csrfTokensMatch(cookie: string | undefined, form: string | undefined): boolean {
  if (!isCsrfToken(cookie) || !isCsrfToken(form)) return false;
  return timingSafeEqual(Buffer.from(cookie), Buffer.from(form));
}

/** The `Set-Cookie` value of `token`, scoped to the dashboard's path. */
export function csrfCookie(token: string, path: string, secure: boolean): string {
  return `${CSRF_COOKIE}=${token}; Path=${path}; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;
}

/** The cookies of a `Cookie` header, by name (the first of a repeated name). */
export function parseCookies(header: string | undefined): Map<string, string> {
  const cookies = new Map<string, string>();
  if (header === undefined) return cookies;
  for (const part of header.split(';')) {
    const equals = part.indexOf('=');
    if (equals <= 0) continue;
    const name = part.slice(0, equals).trim();
    if (!cookies.has(name)) cookies.set(name, part.slice(equals + 1).trim());
  }
  return cookies;
}

/** What the request's headers say of where a POST comes from. */
export interface RequestOrigin {
  readonly host: string | undefined;
  readonly origin: string | undefined;
  readonly secFetchSite: string | undefined;
}

/**
 * Why a POST is refused as cross-site, or undefined when its headers allow it. `Origin` must
 * name the host the request was sent to (the scheme is not compared: behind a proxy that ends
 * TLS the application sees http); `Sec-Fetch-Site`, when the browser sends it, must be
 * `same-origin`. A client that sends neither (curl, an old browser) still needs the token.
 */
export function crossSiteRefusal(request: RequestOrigin): string | undefined {
  if (request.secFetchSite !== undefined && request.secFetchSite !== 'same-origin') {
    return `Sec-Fetch-Site is ${request.secFetchSite}`;
  }
  if (request.origin === undefined) return undefined;
  let originHost: string;
  try {
    originHost = new URL(request.origin).host;
  } catch {
    return 'Origin is not a URL';
  }
  if (request.host === undefined || originHost.toLowerCase() !== request.host.toLowerCase()) {
    return 'Origin is another host';
  }
  return undefined;
}

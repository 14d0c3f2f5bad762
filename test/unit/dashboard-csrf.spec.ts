import { describe, expect, it } from '@jest/globals';
import {
  crossSiteRefusal,
  csrfCookie,
  csrfTokensMatch,
  isCsrfToken,
  newCsrfToken,
  parseCookies,
} from '../../src/dashboard/csrf.js';
import { backWithFlash, basePathOf, safeBack } from '../../src/dashboard/dashboard-http.js';

describe('the CSRF double-submit token', () => {
  it('is 32 random bytes in base64url, new each time', () => {
    const token = newCsrfToken();
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(newCsrfToken()).not.toBe(token);
    expect(isCsrfToken(token)).toBe(true);
    expect(isCsrfToken('short')).toBe(false);
    expect(isCsrfToken(undefined)).toBe(false);
  });

  it('matches only the same token, and never a missing or malformed one', () => {
    const token = newCsrfToken();
    expect(csrfTokensMatch(token, token)).toBe(true);
    expect(csrfTokensMatch(token, newCsrfToken())).toBe(false);
    expect(csrfTokensMatch(token, undefined)).toBe(false);
    expect(csrfTokensMatch(undefined, token)).toBe(false);
    expect(csrfTokensMatch(undefined, undefined)).toBe(false);
    expect(csrfTokensMatch('', '')).toBe(false);
    expect(csrfTokensMatch(`${token}x`, `${token}x`)).toBe(false);
  });

  it('sets an HttpOnly, SameSite=Strict cookie on the dashboard path, Secure over https', () => {
    expect(csrfCookie('t', '/ops/queues', false)).toBe(
      'fcq_dashboard_csrf=t; Path=/ops/queues; HttpOnly; SameSite=Strict',
    );
    expect(csrfCookie('t', '/queues', true)).toMatch(/; Secure$/);
  });

  it('reads cookies, the first of a repeated name', () => {
    const cookies = parseCookies(
      'a=1; fcq_dashboard_csrf=abc; b = 2 ;fcq_dashboard_csrf=later; bad',
    );
    expect(cookies.get('fcq_dashboard_csrf')).toBe('abc');
    expect(cookies.get('b')).toBe('2');
    expect(parseCookies(undefined).size).toBe(0);
  });
});

describe('the cross-site check', () => {
  const host = 'ops.example.com:3000';
  it('allows same-origin requests and clients that send neither header', () => {
    expect(crossSiteRefusal({ host, origin: undefined, secFetchSite: undefined })).toBeUndefined();
    expect(
      crossSiteRefusal({
        host,
        origin: 'https://ops.example.com:3000',
        secFetchSite: 'same-origin',
      }),
    ).toBeUndefined();
    expect(
      crossSiteRefusal({ host, origin: 'http://OPS.example.com:3000', secFetchSite: undefined }),
    ).toBeUndefined();
  });

  it('refuses another origin, a sibling site, and an unreadable Origin', () => {
    expect(
      crossSiteRefusal({ host, origin: 'https://evil.example', secFetchSite: undefined }),
    ).toBe('Origin is another host');
    expect(crossSiteRefusal({ host, origin: undefined, secFetchSite: 'cross-site' })).toBe(
      'Sec-Fetch-Site is cross-site',
    );
    expect(crossSiteRefusal({ host, origin: undefined, secFetchSite: 'same-site' })).toBe(
      'Sec-Fetch-Site is same-site',
    );
    expect(crossSiteRefusal({ host, origin: 'null', secFetchSite: undefined })).toBe(
      'Origin is not a URL',
    );
    expect(
      crossSiteRefusal({
        host: undefined,
        origin: 'https://ops.example.com',
        secFetchSite: undefined,
      }),
    ).toBe('Origin is another host');
  });
});

describe('the redirect back after an action', () => {
  it('stays on the dashboard and carries the flash', () => {
    expect(backWithFlash('/queues', '/queues/queues/a?state=failed&flash=old', 'Retried 1')).toBe(
      '/queues/queues/a?state=failed&flash=Retried+1',
    );
    for (const hostile of [
      '//evil.example/queues',
      'https://evil.example/queues',
      '/queuesevil',
      '/queues/\\evil',
      '/queues/\nx',
      undefined,
    ]) {
      expect(safeBack('/queues', hostile)).toBe('/queues');
    }
  });

  it('finds the base path behind a global prefix', () => {
    expect(basePathOf('/api/queues/queues/x', 'queues')).toBe('/api/queues');
    expect(basePathOf('/queues', 'queues')).toBe('/queues');
    expect(basePathOf('/queuesx/queues/y', 'queues')).toBe('/queuesx/queues');
    expect(basePathOf('/admin/ops/queues/replicas', 'ops/queues')).toBe('/admin/ops/queues');
  });
});

import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Browser } from 'puppeteer-core';
import {
  closeBrowser,
  launchBrowser,
  saveScreenshot,
  SCREENSHOT_DIR,
  watchPage,
} from '../support/browser.js';
import { eventually } from '../support/eventually.js';

/**
 * The browser the dashboard specs drive: it starts here, enforces a strict
 * Content-Security-Policy as a user's browser would (so a spec that finds no script ran has
 * shown something), reports the violations, and saves screenshots.
 */

const CSP = "default-src 'none'; script-src 'self'";
const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>harness</title>
<script>window.inlineRan = true;</script>
<script src="/app.js"></script>
</head><body><h1>Browser harness</h1><p id="status">waiting</p></body></html>`;
const APP = `window.sameOriginRan = true;
document.addEventListener('DOMContentLoaded', () => {
  document.getElementById('status').textContent = 'same-origin script ran';
});`;

let server: Server;
let origin: string;
let browser: Browser | undefined;

beforeAll(async () => {
  server = createServer((request, response) => {
    const headers = { 'Content-Security-Policy': CSP };
    if (request.url === '/') {
      response.writeHead(200, { ...headers, 'Content-Type': 'text/html; charset=utf-8' });
      response.end(PAGE);
    } else if (request.url === '/app.js') {
      response.writeHead(200, { ...headers, 'Content-Type': 'text/javascript; charset=utf-8' });
      response.end(APP);
    } else {
      response.writeHead(404, headers).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  browser = await launchBrowser();
});

afterAll(async () => {
  await closeBrowser(browser);
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

describe('the headless browser harness', () => {
  it('enforces the CSP: the inline script is refused and reported, the same-origin one runs', async () => {
    const page = await browser!.newPage();
    const watch = await watchPage(page);
    await page.goto(`${origin}/`, { waitUntil: 'load' });

    const globals = await page.evaluate(() => {
      const seen = window as unknown as Record<string, unknown>;
      return { inline: seen.inlineRan, sameOrigin: seen.sameOriginRan };
    });
    expect(globals).toEqual({ inline: undefined, sameOrigin: true });
    expect(await page.$eval('#status', (element) => element.textContent)).toBe(
      'same-origin script ran',
    );

    // The report crosses from the page over DevTools after the event: wait for it.
    await eventually(() => Promise.resolve(watch.cspViolations.length > 0), true, 5_000);
    expect(watch.cspViolations).toEqual([
      expect.objectContaining({
        effectiveDirective: 'script-src-elem',
        blockedURI: 'inline',
        documentURI: `${origin}/`,
      }),
    ]);
    expect(watch.problems()).toEqual(
      expect.arrayContaining([expect.stringMatching(/^CSP violation: script-src-elem/)]),
    );
    expect(watch.pageErrors).toEqual([]);
    expect(watch.failedRequests).toEqual([]);

    const path = await saveScreenshot(page, 'browser-harness');
    expect(dirname(path)).toBe(SCREENSHOT_DIR.replace(/\/$/, ''));
    const png = readFileSync(path);
    expect(png.subarray(0, 8)).toEqual(
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    );
    expect(png.length).toBeGreaterThan(1_000);
    await page.close();
  });

  it('reports a failed request and refuses a screenshot name that is a path', async () => {
    const page = await browser!.newPage();
    const watch = await watchPage(page);
    await page.goto(`${origin}/missing`, { waitUntil: 'load' });
    expect(watch.failedRequests).toEqual([`GET ${origin}/missing: HTTP 404`]);
    await expect(saveScreenshot(page, '../escape')).rejects.toThrow(/not a plain file name/);
    await page.close();
  });
});

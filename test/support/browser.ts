/// <reference lib="dom" />
// The DOM types are for the functions that run in the page (page.evaluate); tsconfig.build.json
// compiles src/ alone, so the package's own code still cannot lean on a browser global.
import { createReadStream, createWriteStream, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { rename, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { createBrotliDecompress } from 'node:zlib';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';

/** Where screenshots go: CI keeps the folder as the run's artifacts; git ignores it. */
export const SCREENSHOT_DIR = fileURLToPath(
  new URL('../../test-artifacts/dashboard/', import.meta.url),
);

/** Set to a Chromium or Chrome binary (e.g. Debian's /usr/bin/chromium) to use it instead. */
const EXECUTABLE_ENV = 'CHROMIUM_PATH';
const LAUNCH_TIMEOUT_MS = 30_000;
// Below jest's 60 s test timeout, so a browser that stops answering fails the test that waited
// on it with the CDP method's name rather than a bare timeout.
const PROTOCOL_TIMEOUT_MS = 30_000;
const CLOSE_TIMEOUT_MS = 5_000;

let inflated: Promise<string> | undefined;

/**
 * A headless Chromium for a spec: the one `@sparticuz/chromium` ships (a devDependency, so CI
 * needs no apt step and no download), or the binary `CHROMIUM_PATH` names. Close it with
 * {@link closeBrowser} in `afterAll`.
 */
export async function launchBrowser(): Promise<Browser> {
  const executablePath = process.env[EXECUTABLE_ENV] || (await chromiumBinary());
  const args = [
    // Chromium's sandbox cannot start as root; the tests only load pages they serve themselves.
    ...(process.getuid?.() === 0 ? ['--no-sandbox'] : []),
    // Containers give /dev/shm 64 MB, which a renderer outgrows and then crashes.
    '--disable-dev-shm-usage',
    '--disable-gpu',
    '--no-first-run',
    '--no-default-browser-check',
    '--mute-audio',
    '--hide-scrollbars',
    // Same text rendering from one machine to the next, so screenshots compare.
    '--font-render-hinting=none',
  ];
  return puppeteer.launch({
    executablePath,
    headless: 'shell',
    args,
    timeout: LAUNCH_TIMEOUT_MS,
    protocolTimeout: PROTOCOL_TIMEOUT_MS,
    defaultViewport: { width: 1280, height: 800 },
  });
}

/** Closes the browser, and kills it when it does not close in a few seconds. */
export async function closeBrowser(browser: Browser | undefined): Promise<void> {
  if (browser === undefined) return;
  let timer: NodeJS.Timeout | undefined;
  const closed = await Promise.race([
    browser.close().then(
      () => true,
      () => false,
    ),
    new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), CLOSE_TIMEOUT_MS))),
  ]);
  clearTimeout(timer);
  if (!closed) browser.process()?.kill('SIGKILL');
}

/**
 * Writes a full-page PNG of `page` to `test-artifacts/dashboard/<name>.png` and returns its
 * path. `name` is a file name: letters, digits, `.`, `_` and `-`.
 */
export async function saveScreenshot(page: Page, name: string): Promise<string> {
  if (!/^[\w.-]+$/.test(name) || name.startsWith('.')) {
    throw new Error(`screenshot name ${JSON.stringify(name)} is not a plain file name`);
  }
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const path = join(SCREENSHOT_DIR, `${name}.png`);
  const png = await page.screenshot({ fullPage: true, type: 'png' });
  await writeFile(path, png);
  return path;
}

/** A Content-Security-Policy violation as the page's `securitypolicyviolation` event saw it. */
export interface CspViolation {
  readonly violatedDirective: string;
  readonly effectiveDirective: string;
  /** `inline`, `eval`, or the URL that was blocked. */
  readonly blockedURI: string;
  readonly sourceFile: string;
  readonly lineNumber: number;
  readonly documentURI: string;
}

/** What went wrong in a page while it was watched, for `expect(watch.problems()).toEqual([])`. */
export interface PageWatch {
  /** `console.error` calls and the browser's own error lines (a refused script, a failed load). */
  readonly consoleErrors: string[];
  /** Exceptions the page's scripts threw and did not catch. */
  readonly pageErrors: string[];
  readonly cspViolations: CspViolation[];
  /** Requests that failed outright (refused, aborted), and responses with a status of 400 or more. */
  readonly failedRequests: string[];
  /** All of the above as one line each; empty when the page behaved. */
  problems(): string[];
}

const REPORT_BINDING = '__fetchcraftReportCspViolation';

/**
 * Starts recording `page`'s console errors, uncaught exceptions, failed requests and CSP
 * violations. Call it before the first `goto`: the violation listener is installed in every
 * document the page loads from then on. It runs through DevTools, not as a page script, so the
 * page's own Content-Security-Policy does not block it.
 */
export async function watchPage(page: Page): Promise<PageWatch> {
  const consoleErrors: string[] = [];
  const pageErrors: string[] = [];
  const cspViolations: CspViolation[] = [];
  const failedRequests: string[] = [];

  page.on('console', (message) => {
    if (message.type() === 'error') {
      const where = message.location().url;
      consoleErrors.push(where ? `${message.text()} (${where})` : message.text());
    }
  });
  page.on('pageerror', (error) => {
    pageErrors.push(error instanceof Error ? (error.stack ?? error.message) : String(error));
  });
  page.on('requestfailed', (request) => {
    failedRequests.push(
      `${request.method()} ${request.url()}: ${request.failure()?.errorText ?? 'failed'}`,
    );
  });
  page.on('response', (response) => {
    if (response.status() >= 400) {
      failedRequests.push(
        `${response.request().method()} ${response.url()}: HTTP ${response.status()}`,
      );
    }
  });

  await page.exposeFunction(REPORT_BINDING, (violation: CspViolation) => {
    cspViolations.push(violation);
  });
  await page.evaluateOnNewDocument((binding: string) => {
    document.addEventListener('securitypolicyviolation', (event) => {
      const report = (window as unknown as Record<string, (violation: unknown) => void>)[binding];
      report?.({
        violatedDirective: event.violatedDirective,
        effectiveDirective: event.effectiveDirective,
        blockedURI: event.blockedURI,
        sourceFile: event.sourceFile,
        lineNumber: event.lineNumber,
        documentURI: event.documentURI,
      });
    });
  }, REPORT_BINDING);

  return {
    consoleErrors,
    pageErrors,
    cspViolations,
    failedRequests,
    problems: () => [
      ...consoleErrors.map((text) => `console error: ${text}`),
      ...pageErrors.map((text) => `page error: ${text}`),
      ...cspViolations.map(
        (v) => `CSP violation: ${v.effectiveDirective} blocked ${v.blockedURI} in ${v.documentURI}`,
      ),
      ...failedRequests.map((text) => `request failed: ${text}`),
    ],
  };
}

/**
 * The Chromium inside `@sparticuz/chromium`, decompressed once per machine into a folder named
 * for the package's version. Not the package's own `executablePath()`: it writes a fixed
 * /tmp/chromium in place, which two jest workers starting together could each run half-written,
 * and which a later version would keep reusing. Here each process writes its own file and
 * renames it into place, and the rename is atomic.
 */
function chromiumBinary(): Promise<string> {
  inflated ??= inflateChromium().catch((error: unknown) => {
    inflated = undefined;
    throw error;
  });
  return inflated;
}

async function inflateChromium(): Promise<string> {
  let bin: string;
  let version: string;
  try {
    const entry = createRequire(import.meta.url).resolve('@sparticuz/chromium');
    const root = join(dirname(entry), '..', '..');
    bin = join(root, 'bin', 'chromium.br');
    version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string })
      .version;
  } catch (error) {
    throw new Error(
      `no browser for the tests: the devDependency @sparticuz/chromium is not installed (run \`npm ci\`), or set ${EXECUTABLE_ENV} to a Chromium binary (e.g. \`apt-get install chromium\`, then ${EXECUTABLE_ENV}=/usr/bin/chromium)`,
      { cause: error },
    );
  }
  if (!existsSync(bin)) {
    throw new Error(
      `@sparticuz/chromium ships no ${bin} for this platform (${process.platform}/${process.arch}): set ${EXECUTABLE_ENV} to a Chromium binary`,
    );
  }
  const dir = join(tmpdir(), `fetchcraft-queue-chromium-${version}`);
  const target = join(dir, 'chromium');
  if (existsSync(target)) return target;
  mkdirSync(dir, { recursive: true });
  const partial = `${target}.${process.pid}.partial`;
  try {
    await pipeline(
      createReadStream(bin),
      createBrotliDecompress(),
      createWriteStream(partial, { mode: 0o755 }),
    );
    await rename(partial, target);
  } finally {
    await rm(partial, { force: true });
  }
  return target;
}

import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { useTestApp, type SuiteApp, type SuiteAppOptions } from './suite';

/**
 * A real Chromium (Debian's, at /usr/bin/chromium) driven by playwright-core, for the page
 * suites: one browser per test file, a fresh context per test. Also: axe-core injected from
 * node_modules (offline), screenshots into the git-ignored test-results/screenshots/, and the
 * checks every page must pass (no horizontal overflow, no CSP violation, no script error).
 */

export const CHROMIUM_PATH = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export const SCREENSHOT_DIR = resolve(__dirname, '..', '..', 'test-results', 'screenshots');

/** The two widths every page is checked at: a phone and a laptop. */
export const WIDTHS = [390, 1280] as const;

/**
 * `describe` for a browser suite. Without Chromium: in CI the suite fails with the reason (CI
 * installs Chromium; `.ci/run` sets BROWSER_TESTS_UNAVAILABLE only when it could not); elsewhere
 * it shows as one skipped test that says why.
 */
export function describeBrowser(name: string, body: () => void): void {
  if (CHROMIUM_PATH) {
    describe(name, body);
    return;
  }
  const reason = 'Chromium is not installed at /usr/bin/chromium (apt-get install chromium)';
  describe(name, () => {
    if (process.env.CI && !process.env.BROWSER_TESTS_UNAVAILABLE) {
      test('needs Chromium', () => {
        throw new Error(`${reason}: the browser tests cannot run`);
      });
    } else {
      test.skip(`skipped: ${reason}`, () => undefined);
    }
  });
}

export interface BrowserHandle {
  readonly browser: Browser;
}

/**
 * Launches Chromium for the suite and closes it after. playwright-core gives each launch a fresh
 * temporary user-data-dir of its own (and refuses a `--user-data-dir` argument), removed on close.
 */
export function useBrowser(): BrowserHandle {
  let browser: Browser | undefined;
  beforeAll(async () => {
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
  });
  afterAll(async () => {
    await browser?.close();
  });
  return {
    get browser() {
      if (!browser) {
        throw new Error('useBrowser: the browser starts in beforeAll');
      }
      return browser;
    },
  };
}

/** A free loopback port, so the app's BASE_URL can name the port it will listen on. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

/** Listens on the port BASE_URL names; answers the base URL (ends with '/'). */
export async function listenAt(app: FastifyInstance, port: number): Promise<string> {
  await app.listen({ port, host: '127.0.0.1' });
  return `http://127.0.0.1:${port}/`;
}

export interface ListeningApp extends SuiteApp {
  /** The URL the app listens at (its BASE_URL), ending with '/'. */
  readonly base: string;
}

/**
 * useTestApp, listening on a loopback port that BASE_URL names (so the links in its mail open in
 * the browser), for the suite.
 */
export function useListeningApp(options: SuiteAppOptions = {}): ListeningApp {
  let port = 0;
  let base: string | undefined;
  const t = useTestApp(async () => {
    port = await freePort();
    return { ...options, env: { ...options.env, BASE_URL: `http://127.0.0.1:${port}/` } };
  });
  beforeAll(async () => {
    base = await listenAt(t.app, port);
  });
  return Object.create(t, {
    base: {
      get() {
        if (!base) {
          throw new Error('useListeningApp: the app listens in beforeAll');
        }
        return base;
      },
    },
  }) as ListeningApp;
}

/** What a page did wrong while a test drove it. */
export interface PageProblems {
  /** Console messages about a blocked resource (Content Security Policy). */
  csp: string[];
  /** Uncaught script errors. */
  errors: string[];
}

export interface TestPage {
  context: BrowserContext;
  page: Page;
  problems: PageProblems;
}

/** A fresh context (no storage shared with other tests) and page at `width` px. */
export async function openPage(browser: Browser, width: number = 1280): Promise<TestPage> {
  const context = await browser.newContext({ viewport: { width, height: 900 }, deviceScaleFactor: 1 });
  const page = await context.newPage();
  const problems: PageProblems = { csp: [], errors: [] };
  page.on('console', (message) => {
    if (/Content[ -]Security[ -]Policy/i.test(message.text())) {
      problems.csp.push(message.text());
    }
  });
  page.on('pageerror', (err) => problems.errors.push(String(err)));
  return { context, page, problems };
}

/** Whether the page is wider than the window (a horizontal scroll bar). */
export async function horizontalOverflow(page: Page): Promise<{ scrollWidth: number; innerWidth: number }> {
  // A string: this project's TypeScript has no DOM types; it runs in the page.
  return page.evaluate<{ scrollWidth: number; innerWidth: number }>('({ scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth })');
}

/** Saves a full-page screenshot as test-results/screenshots/{name}.png for a person to look at. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const path = join(SCREENSHOT_DIR, `${name.replace(/[^a-z0-9-]+/gi, '-')}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

let axeSource: string | undefined;

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: string[];
}

/**
 * Runs axe-core (from node_modules, evaluated through the DevTools protocol, which the page's
 * CSP does not apply to) on the page; answers its serious and critical violations.
 */
export async function axe(page: Page): Promise<AxeViolation[]> {
  axeSource ??= readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
  await page.evaluate(axeSource);
  const violations = await page.evaluate<AxeViolation[]>(`axe.run(document, { resultTypes: ['violations'] }).then((result) =>
    result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => JSON.stringify(n.target)) }))
  )`);
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

/** Fills the sign-in form and submits it (the page must be /signin). */
export async function fillSignin(page: Page, email: string, password: string): Promise<void> {
  await page.getByLabel('Email', { exact: true }).fill(email);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

/** Signs in through the page (no MFA step) and waits for the page it lands on. */
export async function signInThroughPage(page: Page, base: string, email: string, password: string, landing = 'admin/project'): Promise<void> {
  await page.goto(`${base}signin`);
  await fillSignin(page, email, password);
  await page.waitForURL(`${base}${landing}`);
}

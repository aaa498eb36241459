import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { loadAssets } from '../../src/pages/assets';
import { PAGE_CSP } from '../../src/pages/security-headers';
import { SCREENSHOT_DIR } from '../helpers/browser';
import { useTestApp } from '../helpers/suite';

/**
 * The pages as HTTP answers (no browser): strict security headers on every page and asset, no
 * inline script or style, nothing from another origin, assets served only by their own names,
 * and each page's JavaScript (its module and every module it imports) under 100 KB gzipped.
 */
const PAGES = ['/signin', '/account', '/admin/project', '/admin/invite'];
const JS_BUDGET_GZIP = 100 * 1024;

describe('the pages over HTTP', () => {
  const t = useTestApp();

  test.each(PAGES)('%s: HTML with the strict headers, no inline script or style, nothing remote', async (path) => {
    const res = await t.app.inject({ method: 'GET', url: `${path}?next=%2Fadmin%2Fproject` });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    const csp = String(res.headers['content-security-policy']);
    expect(csp).toBe(PAGE_CSP);
    for (const directive of ["default-src 'self'", "img-src 'self' data:", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "base-uri 'none'", "form-action 'self'"]) {
      expect(csp).toContain(directive);
    }
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|\*/);
    expect(res.headers['x-frame-options']).toBe('DENY');
    expect(res.headers['referrer-policy']).toBe('no-referrer');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['cache-control']).toBe('no-store');

    const html = res.body;
    // Scripts only as modules from /assets; no inline script, event handler or style.
    const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
    expect(scripts).toHaveLength(1);
    expect(scripts[0][1]).toMatch(/type="module" src="\/assets\/[a-z-]+\.js"/);
    expect(scripts[0][2]).toBe('');
    expect(html).not.toMatch(/<style|\sstyle=|\son[a-z]+=/i);
    expect(html).not.toMatch(/https?:\/\//);
    // Without the script, no form would put what was typed into a URL.
    for (const form of html.match(/<form\b[^>]*>/g) ?? []) {
      expect(form).toContain('method="post"');
    }
    // Every input and select has a label naming it.
    for (const [, id] of html.matchAll(/<(?:input|select)\b[^>]*\bid="([^"]+)"/g)) {
      expect(html).toContain(`<label for="${id}">`);
    }
  });

  test('without its script, the sign-in form would send no password, and never in a URL', async () => {
    const html = (await t.app.inject({ method: 'GET', url: '/signin' })).body;
    expect(html).toMatch(/<input id="password" type="password"/);
    expect(html).not.toMatch(/<input[^>]*\bname="(password|code|email)"/);
  });

  test('/ leads to the sign-in page', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/' });
    expect(res.statusCode).toBe(302);
    expect(res.headers.location).toBe('/signin');
  });

  test('assets: the right type, the page headers, gzip when asked, 304 for a known ETag', async () => {
    const plain = await t.app.inject({ method: 'GET', url: '/assets/signin.js' });
    expect(plain.statusCode).toBe(200);
    expect(plain.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(plain.headers['content-security-policy']).toBe(PAGE_CSP);
    expect(plain.headers['x-content-type-options']).toBe('nosniff');
    expect(plain.body).toContain('auth/login');
    const zipped = await t.app.inject({ method: 'GET', url: '/assets/signin.js', headers: { 'accept-encoding': 'gzip, br' } });
    expect(zipped.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(zipped.rawPayload).toString('utf8')).toBe(plain.body);
    const again = await t.app.inject({ method: 'GET', url: '/assets/signin.js', headers: { 'if-none-match': String(plain.headers.etag) } });
    expect(again.statusCode).toBe(304);
    const css = await t.app.inject({ method: 'GET', url: '/assets/app.css' });
    expect(css.headers['content-type']).toBe('text/css; charset=utf-8');
  });

  test.each(['/assets/..%2Fplugin.ts', '/assets/%2e%2e%2f%2e%2e%2fpackage.json', '/assets/tsconfig.json', '/assets/.hidden.js', '/assets/SIGNIN.JS', '/assets/signin.js%00.css', '/assets/missing.js'])(
    '%s is not served',
    async (url) => {
      const res = await t.app.inject({ method: 'GET', url });
      expect([400, 404]).toContain(res.statusCode);
      expect(res.json().resourceType).toBe('OperationOutcome');
    },
  );

  test('each page loads under 100 KB of JavaScript, gzipped (its module and all it imports)', async () => {
    const assets = loadAssets();
    const sizes: Record<string, number> = {};
    for (const path of PAGES) {
      const html = (await t.app.inject({ method: 'GET', url: path })).body;
      const entry = /src="\/assets\/([a-z-]+\.js)"/.exec(html)?.[1] as string;
      const seen = new Set<string>();
      const visit = (name: string): void => {
        const asset = assets.get(name);
        if (!asset) {
          throw new Error(`${name} is imported but not served`);
        }
        if (seen.has(name)) {
          return;
        }
        seen.add(name);
        for (const [, dep] of asset.body.toString('utf8').matchAll(/^\s*import\s[^'"]*['"]\.\/([a-z-]+\.js)['"]/gm)) {
          visit(dep);
        }
      };
      visit(entry);
      sizes[path] = [...seen].reduce((sum, name) => sum + gzipSync(assets.get(name)?.body as Buffer, { level: 9 }).length, 0);
      expect(seen.size).toBeGreaterThan(1);
    }
    // For a person to read: test-results/page-js-sizes.json.
    mkdirSync(SCREENSHOT_DIR, { recursive: true });
    writeFileSync(join(SCREENSHOT_DIR, '..', 'page-js-sizes.json'), `${JSON.stringify(sizes, null, 2)}\n`);
    for (const [path, size] of Object.entries(sizes)) {
      expect({ path, size, under: size < JS_BUDGET_GZIP }).toEqual({ path, size, under: true });
    }
  });
});

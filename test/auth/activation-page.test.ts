import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { renderSetPasswordPage, SETPASSWORD_PAGE_CSP } from '../../src/auth/setpassword-page';
import { createTestApp, TestClock } from '../helpers/app';
import { capturingLogger } from '../helpers/log-capture';
import { useTestApp } from '../helpers/suite';
import { createLink, createUser, linkPath } from '../helpers/activation';

function scriptOf(html: string): string | undefined {
  return /<script>([\s\S]*?)<\/script>/.exec(html)?.[1];
}
function styleOf(html: string): string | undefined {
  return /<style>([\s\S]*?)<\/style>/.exec(html)?.[1];
}
function sha256(text: string): string {
  return `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;
}

describe('GET /setpassword/:id/:secret (the activation page)', () => {
  const clock = new TestClock();
  const logLines: string[] = [];
  const t = useTestApp(() => {
    // The production logger configuration (redaction, safe URLs), at the most verbose level.
    return { clock, logger: capturingLogger(logLines, 'trace') };
  });

  test('a valid link shows the form, with strict security headers', async () => {
    const user = await createUser(t.app, { email: 'page.person@example.com' });
    const link = await createLink(t.app, user.id as string);
    const res = await t.app.inject({ method: 'GET', url: linkPath(link) });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers['referrer-policy']).toBe('no-referrer');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    const csp = String(res.headers['content-security-policy']);
    expect(csp).toBe(SETPASSWORD_PAGE_CSP);
    expect(csp).toContain("default-src 'none'");
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).toContain("connect-src 'self'");

    const html = res.body;
    expect(html).toContain('<form id="setpassword" method="post" action="/auth/setpassword">');
    expect(html).toContain(`name="id" value="${link.id}"`);
    expect(html).toContain('type="password"');
    expect(html).toContain('page.person@example.com');
    // Only the inline script and style whose hashes the CSP names; nothing loaded from elsewhere.
    expect(csp).toContain(`script-src ${sha256(scriptOf(html) as string)}`);
    expect(csp).toContain(`style-src ${sha256(styleOf(html) as string)}`);
    expect(html).not.toMatch(/\ssrc=|<link|https?:\/\//);
  });

  test('a link that cannot be used shows why, without a form or script', async () => {
    const user = await createUser(t.app);
    const link = await createLink(t.app, user.id as string);
    const wrong = await t.app.inject({ method: 'GET', url: `/setpassword/${link.id}/wrong-secret` });
    expect(wrong.statusCode).toBe(400);
    expect(wrong.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(wrong.body).toContain('This link is not valid');
    expect(wrong.body).not.toContain('<form');
    expect(wrong.body).not.toContain('<script>');

    clock.advance(t.config.activationTtlMs + 1);
    const expired = await t.app.inject({ method: 'GET', url: linkPath(link) });
    expect(expired.statusCode).toBe(400);
    expect(expired.body).toContain('expired');
  });

  test('the page then the form post set the password (the flow a browser follows)', async () => {
    const user = await createUser(t.app);
    const link = await createLink(t.app, user.id as string);
    const page = await t.app.inject({ method: 'GET', url: linkPath(link) });
    const action = /action="([^"]+)"/.exec(page.body)?.[1] as string;
    const secret = /name="secret" value="([^"]+)"/.exec(page.body)?.[1] as string;
    const res = await t.app.inject({ method: 'POST', url: action, payload: { id: link.id, secret, password: 'violet rooftop garden' } });
    expect(res.statusCode).toBe(200);
    const after = await t.app.inject({ method: 'GET', url: linkPath(link) });
    expect(after.statusCode).toBe(400);
    expect(after.body).toContain('already used');
  });

  test('everything placed in the page is escaped', () => {
    const hostile = '"><script>alert(1)</script><img src=x onerror=alert(2)>';
    const html = renderSetPasswordPage({ id: hostile, secret: hostile, email: hostile, action: '/auth/setpassword' });
    expect(html).not.toContain('<script>alert');
    expect(html).not.toContain('<img');
    expect(html).toContain('value="&quot;&gt;&lt;script&gt;alert(1)');
    const problem = renderSetPasswordPage({ id: 'a', secret: 'b', action: '/x', problem: hostile });
    expect(problem).not.toContain('<script>alert');
  });

  test('neither the activation secret nor the password reaches the log', async () => {
    const user = await createUser(t.app);
    const link = await createLink(t.app, user.id as string);
    const password = 'unlogged secret phrase';
    await t.app.inject({ method: 'GET', url: linkPath(link) });
    await t.app.inject({ method: 'POST', url: '/auth/setpassword', payload: { id: link.id, secret: link.secret, password: 'short' } });
    const ok = await t.app.inject({ method: 'POST', url: '/auth/setpassword', payload: { id: link.id, secret: link.secret, password } });
    expect(ok.statusCode).toBe(200);
    const log = logLines.join('');
    expect(log).toContain('/setpassword/');
    expect(log).not.toContain(link.secret);
    expect(log).not.toContain(password);
  });
});

describe('the activation page in a real browser', () => {
  const chromium = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
  const browserTest = chromium ? test : test.skip;
  if (!chromium) {
    // Visible reason in the output: no Chromium on this machine.
    test.skip('skipped: Chromium is not installed at /usr/bin/chromium', () => undefined);
  }

  browserTest('typing a password and submitting sets it and shows the success message', async () => {
    const { chromium: launcher } = await import('playwright-core');
    const t = await createTestApp();
    const address = await t.app.listen({ port: 0, host: '127.0.0.1' });
    const browser = await launcher.launch({ executablePath: chromium, args: ['--no-sandbox'] });
    try {
      const user = await createUser(t.app);
      const link = await createLink(t.app, user.id as string);
      const page = await browser.newPage();
      const violations: string[] = [];
      page.on('console', (m) => {
        if (/Content Security Policy/i.test(m.text())) {
          violations.push(m.text());
        }
      });
      await page.goto(`${address}${linkPath(link)}`);
      await page.fill('#password', 'too short');
      await page.fill('#confirm', 'different');
      await page.click('button[type=submit]');
      expect(await page.textContent('#message')).toContain('not the same');

      await page.fill('#password', 'password123');
      await page.fill('#confirm', 'password123');
      await page.click('button[type=submit]');
      await page.locator('#message.error', { hasText: 'too common' }).waitFor();

      await page.fill('#password', 'crimson lighthouse at dawn');
      await page.fill('#confirm', 'crimson lighthouse at dawn');
      await page.click('button[type=submit]');
      await page.locator('#message.ok', { hasText: 'password is set' }).waitFor();
      expect(await page.locator('form').count()).toBe(0);
      expect(violations).toEqual([]);
    } finally {
      await browser.close();
      await t.close();
    }
  });
});

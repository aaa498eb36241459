import speakeasy from 'speakeasy';
import type { Page } from 'playwright-core';
import { setCredentials } from '../../src/accounts/credentials';
import { ADMIN_EMAIL, ADMIN_PASSWORD, createTestApp, TestClock, type TestApp } from '../helpers/app';
import { pkce } from '../helpers/auth';
import { describeBrowser, fillSignin, freePort, listenAt, openPage, screenshot, useBrowser, useListeningApp, type TestPage } from '../helpers/browser';
import { createAccount, createMembership, createPractitioner, createProject, passwordHashOf } from '../helpers/fixtures';

/**
 * The sign-in page in Chromium: the one message for wrong credentials, the choice of project,
 * the code step of an enrolled account, a rate limit and an MFA lockout shown as messages, the
 * landing pages, the non-admin page whose "Sign out" ends the sign-in on the server, no
 * redirect off the site after signing in, and an expired access token renewed with the refresh
 * token.
 */
const MFA_SECRET = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';

function currentCode(secret: string, offsetSteps = 0): string {
  return speakeasy.totp({ secret, encoding: 'base32', time: Math.floor(Date.now() / 1000) + offsetSteps * 30 });
}

/** A server-scoped member (not an administrator) of the projects, with a Practitioner profile in each. */
async function member(t: TestApp, email: string, password: string, projects: Array<{ id: string }>, options: { mfaSecret?: string } = {}): Promise<string> {
  const user = await createAccount(t.app, { email, password, firstName: 'Mo', lastName: 'Member' });
  if (options.mfaSecret) {
    await setCredentials(t.app.ctx.database, user.id, { passwordHash: await passwordHashOf(password), mfaSecret: options.mfaSecret });
  }
  for (const project of projects) {
    const practitioner = await createPractitioner(t.app, project.id, { name: [{ given: ['Mo'], family: 'Member' }] });
    await createMembership(t.app, { projectId: project.id, user: `User/${user.id}`, profile: `Practitioner/${practitioner.id}` });
  }
  return user.id;
}

describeBrowser('the sign-in page', () => {
  const t = useListeningApp();
  const b = useBrowser();
  const open: TestPage[] = [];
  let base = '';

  beforeAll(() => {
    base = t.base;
  });
  afterEach(async () => {
    for (const p of open.splice(0)) {
      expect(p.problems).toEqual({ csp: [], errors: [] });
      await p.context.close();
    }
  });
  const newPage = async (width = 1280): Promise<Page> => {
    const p = await openPage(b.browser, width);
    open.push(p);
    return p.page;
  };

  test('a wrong password and an unknown email get the same single message', async () => {
    const page = await newPage();
    await page.goto(`${base}signin`);
    const alert = page.getByRole('alert');
    const attempt = async (email: string, password: string): Promise<string | null> => {
      const answered = page.waitForResponse((r) => r.url().endsWith('/auth/login'));
      await fillSignin(page, email, password);
      expect((await answered).status()).toBe(400);
      await page.locator('#signin-form button:not([disabled])').waitFor();
      await alert.waitFor();
      return alert.textContent();
    };
    const wrongPassword = await attempt(ADMIN_EMAIL, 'not the password');
    const unknownEmail = await attempt('nobody-here@example.com', 'whatever-password');
    expect(wrongPassword).toBe('Email or password is invalid');
    expect(unknownEmail).toBe(wrongPassword);
    expect(page.url()).toBe(`${base}signin`);
    // The password field was not emptied into a blank page: the form is still there.
    await expect(page.getByRole('button', { name: 'Sign in' }).isVisible()).resolves.toBe(true);
  });

  test('empty fields are caught before anything is sent', async () => {
    const page = await newPage(390);
    await page.goto(`${base}signin`);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: 'Enter your email address and your password.' }).waitFor();
    expect(await page.evaluate('document.activeElement.id')).toBe('email');
  });

  test('the super administrator lands on /admin/project', async () => {
    const page = await newPage();
    await page.goto(`${base}signin`);
    await fillSignin(page, ADMIN_EMAIL, ADMIN_PASSWORD);
    await page.waitForURL(`${base}admin/project`);
    await page.getByRole('heading', { level: 1, name: 'Super Admin' }).waitFor();
    // The tokens are in this tab's sessionStorage, not in a cookie.
    expect(await page.context().cookies()).toEqual([]);
    expect(await page.evaluate('Object.keys(sessionStorage)')).toEqual(['fis.session']);
  });

  test('several memberships: a list to choose the project from', async () => {
    const one = await createProject(t.app, { name: 'Northside Clinic' });
    const two = await createProject(t.app, { name: 'Southside Clinic' });
    await member(t, 'two-projects@example.com', 'two-projects-password', [one, two]);
    const page = await newPage(390);
    await page.goto(`${base}signin`);
    await fillSignin(page, 'two-projects@example.com', 'two-projects-password');
    await page.getByRole('heading', { name: 'Choose a project', exact: true }).waitFor();
    const choices = page.getByRole('list').getByRole('button');
    expect(await choices.allTextContents()).toEqual(expect.arrayContaining([expect.stringContaining('Northside Clinic'), expect.stringContaining('Southside Clinic')]));
    await screenshot(page, 'signin-choose-project-390');
    await page.getByRole('button', { name: /Southside Clinic/ }).click();
    await page.waitForURL(`${base}account`);
    await page.locator('#project').filter({ hasText: 'Southside Clinic' }).waitFor();
  });

  test('an enrolled account: field "Code", button "Verify"; a wrong code is a message, the right one signs in', async () => {
    const project = await createProject(t.app, { name: 'Code Clinic' });
    await member(t, 'enrolled@example.com', 'enrolled-password-1', [project], { mfaSecret: MFA_SECRET });
    const page = await newPage();
    await page.goto(`${base}signin`);
    await fillSignin(page, 'enrolled@example.com', 'enrolled-password-1');
    const code = page.getByLabel('Code', { exact: true });
    await code.waitFor();
    expect(await page.getByRole('img', { name: /QR code/ }).count()).toBe(0);
    await code.fill('000000' === currentCode(MFA_SECRET) ? '111111' : '000000');
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.getByRole('alert').filter({ hasText: /code/i }).waitFor();
    expect(await code.inputValue()).toBe('');
    await code.fill(currentCode(MFA_SECRET));
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.waitForURL(`${base}account`);
    await page.locator('#project').filter({ hasText: 'Code Clinic' }).waitFor();
  });

  test('a non-admin lands on /account: who and where, and "Sign out" ends the sign-in on the server', async () => {
    const project = await createProject(t.app, { name: 'Quiet Clinic' });
    await member(t, 'quiet@example.com', 'quiet-member-password', [project]);
    for (const width of [390, 1280]) {
      const page = await newPage(width);
      await page.goto(`${base}signin`);
      await fillSignin(page, 'quiet@example.com', 'quiet-member-password');
      await page.waitForURL(`${base}account`);
      await page.locator('#who').filter({ hasText: 'Mo Member' }).waitFor();
      expect(await page.locator('#email').textContent()).toBe('quiet@example.com');
      expect(await page.locator('#project').textContent()).toBe('Quiet Clinic');
      expect(await page.locator('#profile-type').textContent()).toBe('Practitioner');
      await screenshot(page, `account-${width}`);
      const token = (await page.evaluate('JSON.parse(sessionStorage.getItem("fis.session")).accessToken')) as string;
      const before = await t.app.inject({ method: 'GET', url: '/auth/me', headers: { authorization: `Bearer ${token}` } });
      expect(before.statusCode).toBe(200);

      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.waitForURL(`${base}signin?signedout=1`);
      await page.getByText('You are signed out.').waitFor();
      expect(await page.evaluate('sessionStorage.length')).toBe(0);
      const after = await t.app.inject({ method: 'GET', url: '/auth/me', headers: { authorization: `Bearer ${token}` } });
      expect(after.statusCode).toBe(401);
      // Back to a signed-in page: sent to sign in, to come back there.
      await page.goto(`${base}account`);
      await page.waitForURL(`${base}signin?next=%2Faccount`);
    }
  });

  test('after signing in, "next" may only lead to a page of this site', async () => {
    for (const next of ['//evil.example/x', 'https://evil.example/', '/\\evil.example']) {
      const page = await newPage();
      await page.goto(`${base}signin?next=${encodeURIComponent(next)}`);
      await fillSignin(page, ADMIN_EMAIL, ADMIN_PASSWORD);
      await page.waitForURL(`${base}admin/project`);
    }
    const page = await newPage();
    await page.goto(`${base}signin?next=${encodeURIComponent('/admin/invite')}`);
    await fillSignin(page, ADMIN_EMAIL, ADMIN_PASSWORD);
    await page.waitForURL(`${base}admin/invite`);
  });

  test('an account locked after too many wrong codes: the lockout is a message, not a blank page', async () => {
    const project = await createProject(t.app, { name: 'Locked Clinic' });
    await member(t, 'locked@example.com', 'locked-member-password', [project], { mfaSecret: MFA_SECRET });
    // Ten wrong codes from other sign-ins (five per sign-in) lock the code step of the account.
    const wrong = currentCode(MFA_SECRET) === '123456' ? '654321' : '123456';
    for (let round = 0; round < 2; round += 1) {
      const { challenge } = pkce();
      const login = await t.app.inject({
        method: 'POST',
        url: '/auth/login',
        payload: { email: 'locked@example.com', password: 'locked-member-password', codeChallenge: challenge, codeChallengeMethod: 'S256' },
      });
      for (let i = 0; i < 5; i += 1) {
        await t.app.inject({ method: 'POST', url: '/auth/mfa/verify', payload: { login: login.json().login, token: wrong } });
      }
    }
    const page = await newPage(390);
    await page.goto(`${base}signin`);
    await fillSignin(page, 'locked@example.com', 'locked-member-password');
    await page.getByLabel('Code', { exact: true }).fill(currentCode(MFA_SECRET));
    await page.getByRole('button', { name: 'Verify' }).click();
    const alert = page.getByRole('alert').filter({ hasText: /Too many wrong codes/ });
    await alert.waitFor();
    expect(await alert.textContent()).toMatch(/codes are refused for \d+ more minutes/);
    await screenshot(page, 'signin-mfa-lockout-390');
    expect(page.url()).toBe(`${base}signin`);
  });
});

describeBrowser('the sign-in page under a rate limit', () => {
  let app: TestApp;
  let base = '';
  const b = useBrowser();

  beforeAll(async () => {
    const port = await freePort();
    app = await createTestApp({ env: { BASE_URL: `http://127.0.0.1:${port}/`, RATE_LIMIT: 'on', RATE_LIMIT_MAX: '2', RATE_LIMIT_WINDOW_MS: '600000' } });
    base = await listenAt(app.app, port);
  });
  afterAll(async () => {
    await app.close();
  });

  test('too many attempts: a message that says to wait', async () => {
    const { page, context, problems } = await openPage(b.browser, 390);
    await page.goto(`${base}signin`);
    for (let i = 0; i < 2; i += 1) {
      const answered = page.waitForResponse((r) => r.url().endsWith('/auth/login'));
      await fillSignin(page, ADMIN_EMAIL, `wrong password ${i}`);
      expect((await answered).status()).toBe(400);
      await page.locator('#signin-form button:not([disabled])').waitFor();
      await page.getByRole('alert').filter({ hasText: 'Email or password is invalid' }).waitFor();
    }
    await fillSignin(page, ADMIN_EMAIL, ADMIN_PASSWORD);
    const alert = page.getByRole('alert').filter({ hasText: /Too many/ });
    await alert.waitFor();
    expect(await alert.textContent()).toMatch(/wait \d+ seconds|try again/i);
    await screenshot(page, 'signin-rate-limited-390');
    expect(page.url()).toBe(`${base}signin`);
    expect(problems).toEqual({ csp: [], errors: [] });
    await context.close();
  });
});

describeBrowser('a signed-in page whose access token expired', () => {
  // Near real time, so the server's tokens and the browser agree until the clock is moved.
  const clock = new TestClock(new Date());
  const t = useListeningApp({ clock });
  const b = useBrowser();

  test('renews it with the refresh token and carries on; the old token is then refused', async () => {
    const { page, context, problems } = await openPage(b.browser, 1280);
    await page.goto(`${t.base}signin`);
    await fillSignin(page, ADMIN_EMAIL, ADMIN_PASSWORD);
    await page.waitForURL(`${t.base}admin/project`);
    const before = (await page.evaluate('JSON.parse(sessionStorage.getItem("fis.session"))')) as { accessToken: string; refreshToken: string };
    clock.advance(2 * 3600_000);
    expect((await t.app.inject({ method: 'GET', url: '/auth/me', headers: { authorization: `Bearer ${before.accessToken}` } })).statusCode).toBe(401);

    const refreshed = page.waitForResponse((r) => r.url().endsWith('/oauth2/token'));
    await page.getByRole('tab', { name: 'Access Policies' }).click();
    expect((await refreshed).status()).toBe(200);
    await page.getByText('This project has no access policies yet.').waitFor();
    expect(page.url()).toMatch(/\/admin\/project#policies$/);
    const after = (await page.evaluate('JSON.parse(sessionStorage.getItem("fis.session"))')) as { accessToken: string; refreshToken: string };
    expect(after.accessToken).not.toBe(before.accessToken);
    expect(after.refreshToken).not.toBe(before.refreshToken);
    expect((await t.app.inject({ method: 'GET', url: '/auth/me', headers: { authorization: `Bearer ${after.accessToken}` } })).statusCode).toBe(200);
    expect(problems).toEqual({ csp: [], errors: [] });
    await context.close();
  });
});

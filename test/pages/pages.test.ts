import type { Page, Response } from 'playwright-core';
import { PAGE_CSP } from '../../src/pages/security-headers';
import { ADMIN_EMAIL, ADMIN_PASSWORD } from '../helpers/app';
import {
  axe,
  describeBrowser,
  fillSignin,
  horizontalOverflow,
  openPage,
  screenshot,
  signInThroughPage,
  useBrowser,
  useListeningApp,
  WIDTHS,
  type TestPage,
} from '../helpers/browser';
import { create, createAccount, createMembership, createPractitioner, createProject } from '../helpers/fixtures';
import { createLink, createUser, linkPath } from '../helpers/activation';

/**
 * Every page, in each of its states, at 390 px (a phone) and 1280 px (a laptop): no horizontal
 * overflow, no serious or critical axe-core violation, the strict CSP on the page, no CSP
 * violation or script error; a screenshot of each goes to test-results/screenshots/. Also: the
 * Users tab pages past 50 members, and the tabs work with the keyboard.
 */
describeBrowser('every page at 390 and 1280 px', () => {
  const t = useListeningApp();
  const b = useBrowser();
  const open: TestPage[] = [];
  let projectId: string;

  beforeAll(async () => {
    // A project with 55 members (the Users tab shows 50 a page) and an access policy.
    projectId = (await createProject(t.app, { name: 'Large Clinic' })).id;
    await create(t.app, { resourceType: 'AccessPolicy', name: 'Front desk', resource: [{ resourceType: 'Patient' }] }, projectId);
    for (let i = 0; i < 55; i += 1) {
      const name = `Person ${String(i).padStart(2, '0')} Withaverylongfamilyname`;
      const user = await createAccount(t.app, { email: `person-${i}-with-a-long-address@clinic-example.org`, password: 'member-password-1', projectId });
      const practitioner = await createPractitioner(t.app, projectId, { name: [{ text: name }] });
      await createMembership(t.app, { projectId, user: `User/${user.id}`, profile: `Practitioner/${practitioner.id}`, fields: { profile: { reference: `Practitioner/${practitioner.id}`, display: name } } });
    }
    const enrol = await createAccount(t.app, { email: 'must-enrol@example.com', password: 'must-enrol-password', mfaRequired: true });
    const enrolProfile = await createPractitioner(t.app, projectId);
    await createMembership(t.app, { projectId, user: `User/${enrol.id}`, profile: `Practitioner/${enrolProfile.id}` });
    const user = await createAccount(t.app, { email: 'plain@example.com', password: 'plain-member-password', firstName: 'Plain', lastName: 'Member' });
    const practitioner = await createPractitioner(t.app, projectId, { name: [{ given: ['Plain'], family: 'Member' }] });
    await createMembership(t.app, { projectId, user: `User/${user.id}`, profile: `Practitioner/${practitioner.id}` });
  });
  afterEach(async () => {
    for (const p of open.splice(0)) {
      expect(p.problems).toEqual({ csp: [], errors: [] });
      await p.context.close();
    }
  });

  async function newPage(width: number): Promise<Page> {
    const p = await openPage(b.browser, width);
    open.push(p);
    return p.page;
  }

  /** The checks every page state passes, and its screenshot. */
  async function check(page: Page, name: string, width: number): Promise<void> {
    const { scrollWidth, innerWidth } = await horizontalOverflow(page);
    expect({ name, scrollWidth }).toEqual({ name, scrollWidth: Math.min(scrollWidth, innerWidth) });
    expect({ name, violations: await axe(page) }).toEqual({ name, violations: [] });
    await screenshot(page, `${name}-${width}`);
  }

  function expectStrictHeaders(response: Response | null): void {
    const headers = response?.headers() ?? {};
    expect(headers['content-security-policy']).toBe(PAGE_CSP);
    expect(headers['x-frame-options']).toBe('DENY');
    expect(headers['referrer-policy']).toBe('no-referrer');
  }

  test.each(WIDTHS)('sign-in steps at %i px: the form, an error, the MFA enrolment with its QR code and secret', async (width) => {
    const page = await newPage(width);
    expectStrictHeaders(await page.goto(`${t.base}signin`));
    await check(page, 'signin', width);
    await fillSignin(page, ADMIN_EMAIL, 'wrong password');
    await page.getByRole('alert').filter({ hasText: 'invalid' }).waitFor();
    await check(page, 'signin-error', width);

    await fillSignin(page, 'must-enrol@example.com', 'must-enrol-password');
    const qr = page.getByRole('img', { name: /QR code/ });
    await qr.waitFor();
    expect(await qr.getAttribute('src')).toMatch(/^data:image\/png;base64,/);
    expect(await page.locator('#mfa-secret').textContent()).toMatch(/^[A-Z2-7]{16,}$/);
    await page.getByLabel('Code', { exact: true }).waitFor();
    await page.getByRole('button', { name: 'Verify' }).waitFor();
    await check(page, 'signin-mfa-enrol', width);
  });

  test.each(WIDTHS)('the member page at %i px', async (width) => {
    const page = await newPage(width);
    await signInThroughPage(page, t.base, 'plain@example.com', 'plain-member-password', 'account');
    await page.locator('#project').filter({ hasText: 'Large Clinic' }).waitFor();
    await check(page, 'account', width);
    expectStrictHeaders(await page.reload());
  });

  test.each(WIDTHS)('the project page at %i px: each tab; Users pages past 50', async (width) => {
    const page = await newPage(width);
    await signInThroughPage(page, t.base, ADMIN_EMAIL, ADMIN_PASSWORD);
    expectStrictHeaders(await page.goto(`${t.base}admin/project?project=${projectId}`));
    await page.getByRole('heading', { level: 1, name: 'Large Clinic' }).waitFor();
    await check(page, 'project-details', width);

    await page.getByRole('tab', { name: 'Users' }).click();
    const rows = page.locator('#members tr');
    await page.getByText('Members 1–50 of 57').waitFor();
    expect(await rows.count()).toBe(50);
    const firstPage = await page.locator('#members tr td:first-child').allTextContents();
    expect(await page.getByRole('button', { name: 'Previous page' }).isDisabled()).toBe(true);
    await check(page, 'project-users', width);
    await page.getByRole('button', { name: 'Next page' }).click();
    await page.getByText('Members 51–57 of 57').waitFor();
    expect(await rows.count()).toBe(7);
    expect(await page.getByRole('button', { name: 'Next page' }).isDisabled()).toBe(true);
    const secondPage = await page.locator('#members tr td:first-child').allTextContents();
    const everyone = [...firstPage, ...secondPage];
    expect(new Set(everyone).size).toBe(57);
    expect(everyone).toEqual(expect.arrayContaining(['Person 00 Withaverylongfamilyname', 'Person 54 Withaverylongfamilyname', 'Plain Member']));
    // "Invite new user" is the last thing of the tab, after the list and its pages.
    const invite = page.getByRole('link', { name: 'Invite new user' });
    expect(await invite.getAttribute('href')).toBe(`/admin/invite?project=${projectId}`);
    const below = await page.evaluate(
      `document.querySelector('#invite-link').getBoundingClientRect().top > document.querySelector('.pager').getBoundingClientRect().bottom`,
    );
    expect(below).toBe(true);

    await page.getByRole('tab', { name: 'Access Policies' }).click();
    await page.getByText('Front desk').waitFor();
    await check(page, 'project-policies', width);
    await page.getByRole('tab', { name: 'Projects' }).click();
    await page.getByRole('link', { name: 'Large Clinic' }).waitFor();
    await check(page, 'project-projects', width);
  });

  test.each(WIDTHS)('the invite form at %i px', async (width) => {
    const page = await newPage(width);
    await signInThroughPage(page, t.base, ADMIN_EMAIL, ADMIN_PASSWORD);
    expectStrictHeaders(await page.goto(`${t.base}admin/invite?project=${projectId}`));
    await page.getByText('Into the project Large Clinic').waitFor();
    await page.getByLabel('Access Policy').locator('option', { hasText: 'Front desk' }).waitFor({ state: 'attached' });
    await check(page, 'invite', width);
    await page.getByRole('button', { name: 'Invite' }).click();
    await page.locator('#firstName-error').waitFor();
    await check(page, 'invite-errors', width);
  });

  test.each(WIDTHS)('the activation page at %i px: fits the screen, then a "Sign in" link to /signin', async (width) => {
    const user = await createUser(t.app);
    const link = await createLink(t.app, user.id as string);
    const page = await newPage(width);
    const response = await page.goto(`${t.base}${linkPath(link).slice(1)}`);
    const headers = response?.headers() ?? {};
    expect(headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(headers['referrer-policy']).toBe('no-referrer');
    await check(page, 'setpassword', width);
    // The card keeps a margin from both edges of a phone screen.
    const edges = await page.evaluate<{ left: number; right: number }>(
      '(() => { const r = document.querySelector("main").getBoundingClientRect(); return { left: r.left, right: window.innerWidth - r.right }; })()',
    );
    expect(edges.left).toBeGreaterThanOrEqual(8);
    expect(edges.right).toBeGreaterThanOrEqual(8);
    await page.getByLabel('New password').fill('lantern over quiet water');
    await page.getByLabel('Repeat the password').fill('lantern over quiet water');
    await page.getByRole('button', { name: 'Set password' }).click();
    const signIn = page.getByRole('link', { name: 'Sign in', exact: true });
    await signIn.waitFor();
    await check(page, 'setpassword-done', width);
    await signIn.click();
    await page.waitForURL(`${t.base}signin`);
    await page.getByLabel('Password', { exact: true }).waitFor();
  });

  test('the tabs work with the keyboard (arrows, Home, End) and say which is selected', async () => {
    const page = await newPage(1280);
    await signInThroughPage(page, t.base, ADMIN_EMAIL, ADMIN_PASSWORD);
    await page.goto(`${t.base}admin/project?project=${projectId}`);
    await page.getByRole('heading', { level: 1, name: 'Large Clinic' }).waitFor();
    const details = page.getByRole('tab', { name: 'Details' });
    await details.focus();
    await page.keyboard.press('ArrowRight');
    const users = page.getByRole('tab', { name: 'Users' });
    expect(await users.getAttribute('aria-selected')).toBe('true');
    expect(await details.getAttribute('aria-selected')).toBe('false');
    expect(await page.evaluate('document.activeElement.id')).toBe('tab-users');
    expect(await page.getByRole('tabpanel', { name: 'Users' }).isVisible()).toBe(true);
    expect(page.url()).toMatch(/#users$/);
    await page.keyboard.press('End');
    expect(await page.getByRole('tab', { name: 'Projects' }).getAttribute('aria-selected')).toBe('true');
    await page.keyboard.press('Home');
    expect(await details.getAttribute('aria-selected')).toBe('true');
    // Reloading keeps the tab of the URL.
    await page.goto(`${t.base}admin/project?project=${projectId}#users`);
    expect(await users.getAttribute('aria-selected')).toBe('true');
    await page.reload();
    await page.getByText('Members 1–50 of 57').waitFor();
    expect(await page.getByRole('tabpanel', { name: 'Users' }).isVisible()).toBe(true);
  });

  test('the checks can fail: a field without its label, and a page wider than the phone', async () => {
    const page = await newPage(390);
    await page.goto(`${t.base}signin`);
    await page.getByLabel('Email', { exact: true }).waitFor();
    await page.evaluate(`document.querySelector('label[for="email"]').remove(); document.body.append(Object.assign(document.createElement('pre'), { textContent: 'x'.repeat(200) }))`);
    expect((await axe(page)).map((v) => v.id)).toContain('label');
    const { scrollWidth, innerWidth } = await horizontalOverflow(page);
    expect(scrollWidth).toBeGreaterThan(innerWidth);
  });
});

import type { ProjectMembership } from '@medplum/fhirtypes';
import speakeasy from 'speakeasy';
import { findResources } from '../../src/fhir/repository';
import { INVITE_STATUS_URL } from '../../src/invite/invite-status';
import { ADMIN_EMAIL, ADMIN_PASSWORD } from '../helpers/app';
import { describeBrowser, fillSignin, openPage, screenshot, useBrowser, useListeningApp, type TestPage } from '../helpers/browser';
import { repoOf } from '../helpers/fixtures';
import { mailsTo } from '../helpers/invite';

/**
 * The whole journey in Chromium, through the pages only, with a real SMTP server: the super
 * administrator signs in, creates a project, opens Users, clicks "Invite new user", invites a
 * Practitioner with "MFA Required"; the welcome mail arrives; in a fresh browser context the
 * invitee opens the link, sets a password, clicks "Sign in", signs in, sees the QR code, computes
 * the TOTP code from the secret shown (speakeasy), verifies and is signed in as that
 * Practitioner; back in the administrator's context the member shows with MFA enrolled.
 */
describeBrowser('the invite journey in a browser', () => {
  const t = useListeningApp({ smtp: true });
  const b = useBrowser();
  const pages: TestPage[] = [];

  afterAll(async () => {
    for (const p of pages) {
      await p.context.close();
    }
  });

  test('invite with MFA required → mail → set password → sign in → enrol → signed in; the admin sees MFA enrolled', async () => {
    const email = 'ada.quillfeather@example.com';
    const password = 'harbour lights at midnight';

    // 1. The super administrator signs in and creates a project.
    const adminTab = await openPage(b.browser, 1280);
    pages.push(adminTab);
    const admin = adminTab.page;
    await admin.goto(`${t.base}signin`);
    await fillSignin(admin, ADMIN_EMAIL, ADMIN_PASSWORD);
    await admin.waitForURL(`${t.base}admin/project`);
    await admin.getByRole('tab', { name: 'Projects' }).click();
    await admin.getByLabel('Project name').fill('Riverside Clinic');
    await admin.getByRole('button', { name: 'Create project' }).click();
    await admin.getByRole('heading', { level: 1, name: 'Riverside Clinic' }).waitFor();
    const projectId = new URL(admin.url()).searchParams.get('project') as string;
    expect(projectId).toBeTruthy();

    // 2. Users, then "Invite new user" at the bottom; the form with "MFA Required" checked.
    await admin.getByRole('tab', { name: 'Users' }).click();
    await admin.getByText('Members 0–0 of 0').waitFor();
    await admin.getByRole('link', { name: 'Invite new user' }).click();
    await admin.waitForURL(`${t.base}admin/invite?project=${projectId}`);
    await admin.getByText('Into the project Riverside Clinic').waitFor();
    await admin.getByLabel('Role').selectOption('Practitioner');
    await admin.getByLabel('First Name').fill('Ada');
    await admin.getByLabel('Last Name').fill('Quillfeather');
    await admin.getByLabel('Email', { exact: true }).fill(email);
    await admin.getByLabel('MFA Required').check();
    await admin.getByRole('button', { name: 'Invite' }).click();
    await admin.getByRole('heading', { name: 'Invitation sent' }).waitFor();
    expect(await admin.locator('#result-email').textContent()).toBe(`Queued: the welcome email is on its way to ${email}.`);
    await screenshot(admin, 'journey-1-invited-1280');

    // 3. The welcome mail arrives at the real SMTP server.
    const [mail] = await mailsTo(t.smtp, email);
    expect(mail.subject).toBe('You are invited to Riverside Clinic');
    expect(mail.text).toContain('You were invited to Riverside Clinic by Super Admin.');
    expect((mail.text as string).replace(/\s+/g, ' ')).toContain('Google Authenticator, Microsoft Authenticator or Authy');
    const link = new RegExp(`${t.base.replace(/[.]/g, '\\.')}setpassword/[A-Za-z0-9_-]+/[A-Za-z0-9_-]+`).exec(mail.text as string)?.[0];
    expect(link).toBeDefined();

    // 4. In a fresh context (a phone): the link, a password, "Sign in".
    const inviteeTab = await openPage(b.browser, 390);
    pages.push(inviteeTab);
    const invitee = inviteeTab.page;
    await invitee.goto(link as string);
    await invitee.getByText(`Choose a password for ${email}.`).waitFor();
    await invitee.getByLabel('New password').fill(password);
    await invitee.getByLabel('Repeat the password').fill(password);
    await invitee.getByRole('button', { name: 'Set password' }).click();
    await invitee.getByText('Your password is set.').waitFor();
    await invitee.getByRole('link', { name: 'Sign in', exact: true }).click();
    await invitee.waitForURL(`${t.base}signin`);

    // 5. Signing in asks to enrol: the QR code and the secret; the code from it is verified.
    await fillSignin(invitee, email, password);
    const qr = invitee.getByRole('img', { name: /QR code/ });
    await qr.waitFor();
    expect(await qr.getAttribute('src')).toMatch(/^data:image\/png;base64,/);
    const secret = ((await invitee.locator('#mfa-secret').textContent()) ?? '').trim();
    expect(secret).toMatch(/^[A-Z2-7]{16,}$/);
    await screenshot(invitee, 'journey-2-enrol-390');
    await invitee.getByLabel('Code', { exact: true }).fill(speakeasy.totp({ secret, encoding: 'base32' }));
    await invitee.getByRole('button', { name: 'Verify' }).click();

    // 6. Signed in as the invited Practitioner (not an administrator: the member page).
    await invitee.waitForURL(`${t.base}account`);
    await invitee.locator('#who').filter({ hasText: 'Ada Quillfeather' }).waitFor();
    expect(await invitee.locator('#email').textContent()).toBe(email);
    expect(await invitee.locator('#project').textContent()).toBe('Riverside Clinic');
    expect(await invitee.locator('#profile-type').textContent()).toBe('Practitioner');
    await screenshot(invitee, 'journey-3-signed-in-390');
    const token = (await invitee.evaluate('JSON.parse(sessionStorage.getItem("fis.session")).accessToken')) as string;
    const me = await t.app.inject({ method: 'GET', url: '/auth/me', headers: { authorization: `Bearer ${token}` } });
    expect(me.json()).toMatchObject({ project: { id: projectId }, profile: { resourceType: 'Practitioner', name: [{ given: ['Ada'], family: 'Quillfeather' }] } });

    // 7. Back in the administrator's context: the member, with MFA enrolled.
    await admin.goto(`${t.base}admin/project?project=${projectId}#users`);
    const row = admin.locator('#members tr', { hasText: email });
    await row.waitFor();
    const cells = Object.fromEntries(
      await Promise.all((await row.locator('td').all()).map(async (cell) => [await cell.getAttribute('data-label'), (await cell.textContent())?.trim()])),
    );
    expect(cells).toMatchObject({ Name: 'Ada Quillfeather', Email: email, Role: 'Practitioner', Admin: 'No', Account: 'Server', MFA: 'Enrolled' });
    // The invitation was accepted when the password was set through its link.
    expect(cells['Invite status']).toBe('Accepted');
    const [membership] = await findResources<ProjectMembership>(repoOf(t.app), 'ProjectMembership', { project: projectId });
    expect(membership.extension?.find((e) => e.url === INVITE_STATUS_URL)?.extension?.find((e) => e.url === 'status')?.valueCode).toBe('accepted');
    await screenshot(admin, 'journey-4-users-1280');

    for (const p of pages) {
      expect(p.problems).toEqual({ csp: [], errors: [] });
    }
  });
});

import type { AccessPolicy, ProjectMembership, User } from '@medplum/fhirtypes';
import type { Page } from 'playwright-core';
import { findResources } from '../../src/fhir/repository';
import { ADMIN_EMAIL, ADMIN_PASSWORD } from '../helpers/app';
import { describeBrowser, openPage, screenshot, signInThroughPage, useBrowser, useListeningApp, type TestPage } from '../helpers/browser';
import { create, createAccount, createMembership, createPractitioner, createProject, repoOf } from '../helpers/fixtures';

/**
 * The invite form in Chromium: server errors beside the field their `expression` names (others
 * in the summary), "Project Scoped" following the role until touched, the access policies of the
 * project, and the result with the activation link and "Copy link" when no email is sent.
 */
describeBrowser('the invite form', () => {
  const t = useListeningApp({ smtp: true });
  const b = useBrowser();
  const open: TestPage[] = [];
  let projectId: string;

  beforeAll(async () => {
    projectId = (await createProject(t.app, { name: 'Form Clinic' })).id;
    await create<AccessPolicy>(t.app, { resourceType: 'AccessPolicy', name: 'Front desk', resource: [{ resourceType: 'Patient' }] }, projectId);
    await create<AccessPolicy>(t.app, { resourceType: 'AccessPolicy', name: 'Billing', resource: [{ resourceType: 'Patient', readonly: true }] }, projectId);
  });
  afterEach(async () => {
    for (const p of open.splice(0)) {
      expect(p.problems).toEqual({ csp: [], errors: [] });
      await p.context.close();
    }
  });

  /** The super administrator on the invite form of the test project. */
  async function inviteForm(width = 1280, permissions: string[] = []): Promise<Page> {
    const p = await openPage(b.browser, width);
    open.push(p);
    await p.context.grantPermissions(permissions, { origin: t.base.slice(0, -1) });
    await signInThroughPage(p.page, t.base, ADMIN_EMAIL, ADMIN_PASSWORD);
    await p.page.goto(`${t.base}admin/invite?project=${projectId}`);
    await p.page.getByText('Into the project Form Clinic').waitFor();
    return p.page;
  }

  const memberships = () => findResources<ProjectMembership>(repoOf(t.app), 'ProjectMembership', { project: projectId });

  test('an invalid email: the server\'s message beside "Email", the field marked and focused, nothing written', async () => {
    const page = await inviteForm(390);
    const before = (await memberships()).length;
    await page.getByLabel('First Name').fill('Ada');
    await page.getByLabel('Last Name').fill('Quillfeather');
    await page.getByLabel('Email', { exact: true }).fill('ada.at.example');
    const answered = page.waitForResponse((r) => r.url().includes('/$invite'));
    await page.getByRole('button', { name: 'Invite' }).click();
    expect((await answered).status()).toBe(400);
    const email = page.getByLabel('Email', { exact: true });
    const error = page.locator('#email-error');
    await error.waitFor();
    expect(await error.textContent()).toMatch(/email/i);
    expect(await email.getAttribute('aria-invalid')).toBe('true');
    expect(await email.getAttribute('aria-describedby')).toContain('email-error');
    expect(await page.evaluate('document.activeElement.id')).toBe('email');
    await page.getByRole('alert').filter({ hasText: 'correct the fields marked below' }).waitFor();
    // No other field is marked.
    for (const id of ['firstName', 'lastName', 'role', 'accessPolicy']) {
      expect(await page.locator(`#${id}-error`).isVisible()).toBe(false);
    }
    await screenshot(page, 'invite-error-390');
    expect((await memberships()).length).toBe(before);

    // Corrected, the same form invites.
    await email.fill('ada@example.com');
    await page.getByRole('button', { name: 'Invite' }).click();
    await page.getByRole('heading', { name: 'Invitation sent' }).waitFor();
    expect((await memberships()).length).toBe(before + 1);
  });

  test('an empty first name is marked on "First Name"; a refusal without a field goes to the summary', async () => {
    const page = await inviteForm();
    await page.getByLabel('Last Name').fill('Nofirst');
    await page.getByLabel('Email', { exact: true }).fill('nofirst@example.com');
    await page.getByRole('button', { name: 'Invite' }).click();
    await page.locator('#firstName-error').waitFor();
    expect(await page.getByLabel('First Name').getAttribute('aria-invalid')).toBe('true');

    // Already a member: a 409 about no single field.
    const user = await createAccount(t.app, { email: 'already@example.com', password: 'already-member-password' });
    const practitioner = await createPractitioner(t.app, projectId);
    await createMembership(t.app, { projectId, user: `User/${user.id}`, profile: `Practitioner/${practitioner.id}` });
    await page.getByLabel('First Name').fill('Al');
    await page.getByLabel('Last Name').fill('Ready');
    await page.getByLabel('Email', { exact: true }).fill('already@example.com');
    await page.getByRole('button', { name: 'Invite' }).click();
    const summary = page.getByRole('alert').filter({ hasText: 'already a member' });
    await summary.waitFor();
    expect(await page.locator('#firstName-error').isVisible()).toBe(false);
    expect(await page.locator('[aria-invalid="true"]').count()).toBe(0);
  });

  test('"Project Scoped" follows the role (off for Practitioner, on for Patient and RelatedPerson) until it is touched', async () => {
    const page = await inviteForm();
    const role = page.getByLabel('Role');
    const scoped = page.getByLabel('Project Scoped');
    expect(await role.inputValue()).toBe('Practitioner');
    expect(await page.getByLabel('Send email').isChecked()).toBe(true);
    expect(await page.getByLabel('Admin', { exact: true }).isChecked()).toBe(false);
    expect(await page.getByLabel('MFA Required').isChecked()).toBe(false);
    expect(await scoped.isChecked()).toBe(false);
    await role.selectOption('Patient');
    expect(await scoped.isChecked()).toBe(true);
    await role.selectOption('RelatedPerson');
    expect(await scoped.isChecked()).toBe(true);
    await role.selectOption('Practitioner');
    expect(await scoped.isChecked()).toBe(false);
    // Touched (with the keyboard): it then stays as set.
    await scoped.focus();
    await page.keyboard.press('Space');
    expect(await scoped.isChecked()).toBe(true);
    await role.selectOption('Patient');
    await role.selectOption('Practitioner');
    expect(await scoped.isChecked()).toBe(true);
  });

  test('"Send email" unchecked: the result shows the person, the role, no email, and the activation link with "Copy link"', async () => {
    const page = await inviteForm(1280, ['clipboard-read', 'clipboard-write']);
    const sent = t.smtp.messages.length;
    await page.getByLabel('Role').selectOption('Patient');
    await page.getByLabel('First Name').fill('Pat');
    await page.getByLabel('Last Name').fill('Linkonly');
    await page.getByLabel('Email', { exact: true }).fill('pat.linkonly@example.com');
    await page.getByLabel('Access Policy').selectOption({ label: 'Front desk' });
    await page.getByLabel('Send email').uncheck();
    await page.getByRole('button', { name: 'Invite' }).click();
    await page.getByRole('heading', { name: 'Invitation created' }).waitFor();
    expect(await page.locator('#result-person').textContent()).toBe('Pat Linkonly (pat.linkonly@example.com)');
    expect(await page.locator('#result-role').textContent()).toBe('Patient');
    expect(await page.locator('#result-email').textContent()).toBe('Not sent.');
    const link = await page.getByLabel('Activation link').inputValue();
    expect(link).toMatch(new RegExp(`^${t.base}setpassword/[A-Za-z0-9_-]+/[A-Za-z0-9_-]+$`));
    await page.getByRole('button', { name: 'Copy link' }).click();
    await page.getByText('Link copied.').waitFor();
    expect(await page.evaluate('navigator.clipboard.readText()')).toBe(link);
    await screenshot(page, 'invite-result-link-1280');

    // What the server holds: a project-scoped patient with the chosen policy; no mail.
    const [user] = await findResources<User>(repoOf(t.app), 'User', { 'resource.email': 'pat.linkonly@example.com' });
    expect(user.project?.reference).toBe(`Project/${projectId}`);
    const membership = (await memberships()).find((m) => m.user?.reference === `User/${user.id}`);
    const [policy] = await findResources<AccessPolicy>(repoOf(t.app), 'AccessPolicy', { project: projectId, 'resource.name': 'Front desk' });
    expect(membership?.accessPolicy?.reference).toBe(`AccessPolicy/${policy.id}`);
    expect(t.smtp.messages.length).toBe(sent);
    // The link opens the activation page.
    const activation = await page.context().request.get(link);
    expect(activation.status()).toBe(200);
  });

  test('"Admin", "MFA Required" and a server-scoped Practitioner reach the server as checked', async () => {
    const page = await inviteForm();
    await page.getByLabel('First Name').fill('Grace');
    await page.getByLabel('Last Name').fill('Adminton');
    await page.getByLabel('Email', { exact: true }).fill('grace.adminton@example.com');
    await page.getByLabel('Admin', { exact: true }).check();
    await page.getByLabel('MFA Required').check();
    await page.getByRole('button', { name: 'Invite' }).click();
    await page.getByRole('heading', { name: 'Invitation sent' }).waitFor();
    expect(await page.locator('#result-role').textContent()).toBe('Practitioner, project administrator');
    expect(await page.locator('#result-email').textContent()).toBe('Queued: the welcome email is on its way to grace.adminton@example.com.');
    expect(await page.locator('#link-box').isVisible()).toBe(false);
    const [user] = await findResources<User>(repoOf(t.app), 'User', { 'resource.email': 'grace.adminton@example.com' });
    expect(user.project).toBeUndefined();
    expect(user.mfaRequired).toBe(true);
    const membership = (await memberships()).find((m) => m.user?.reference === `User/${user.id}`);
    expect(membership?.admin).toBe(true);
    await t.smtp.waitFor(1);
  });

  test('a member who is not an administrator cannot use the form or the project page', async () => {
    const user = await createAccount(t.app, { email: 'not-admin@example.com', password: 'not-admin-password-1' });
    const practitioner = await createPractitioner(t.app, projectId);
    await createMembership(t.app, { projectId, user: `User/${user.id}`, profile: `Practitioner/${practitioner.id}` });
    const p = await openPage(b.browser, 390);
    open.push(p);
    await signInThroughPage(p.page, t.base, 'not-admin@example.com', 'not-admin-password-1', 'account');
    await p.page.goto(`${t.base}admin/invite`);
    const refused = p.page.getByRole('alert').filter({ hasText: /administrators/ });
    await refused.waitFor();
    expect(await refused.textContent()).toBe('Only administrators of a project can invite people into it. Ask an administrator of the project to invite people.');
    expect(await p.page.getByRole('button', { name: 'Invite' }).isDisabled()).toBe(true);
    await p.page.goto(`${t.base}admin/project`);
    await p.page.waitForURL(`${t.base}account`);
    // The super administrator's project named in the URL: the API refuses, the page says so.
    await p.page.goto(`${t.base}admin/invite?project=${projectId}`);
    await refused.waitFor();
  });

  test('a project administrator opening another project: the refusal as one sentence and what to do', async () => {
    const admin = await createAccount(t.app, { email: 'other-admin@example.com', password: 'other-admin-password-1' });
    const other = await createProject(t.app, { name: 'Other Clinic' });
    const practitioner = await createPractitioner(t.app, other.id);
    await createMembership(t.app, { projectId: other.id, user: `User/${admin.id}`, profile: `Practitioner/${practitioner.id}`, admin: true });
    const p = await openPage(b.browser, 390);
    open.push(p);
    await signInThroughPage(p.page, t.base, 'other-admin@example.com', 'other-admin-password-1');
    await p.page.goto(`${t.base}admin/project?project=${projectId}`);
    const alert = p.page.getByRole('alert');
    await alert.filter({ hasText: 'Only administrators' }).waitFor();
    expect(await alert.textContent()).toBe('Only administrators of this project may list its members. Open a project you administer.');
    expect(await p.page.locator('#members tr').count()).toBe(0);
  });
});

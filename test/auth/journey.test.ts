import type { LoginAuthenticationResponse, MedplumClient } from '@medplum/core';
import type { Practitioner, Project, ProjectMembership } from '@medplum/fhirtypes';
import { createResource } from '../../src/fhir/repository';
import { TestClock } from '../helpers/app';
import { allowPlainPkceFallback, listen, newMedplumClient, signInClient } from '../helpers/medplum';
import { useTestApp } from '../helpers/suite';
import { repoOf } from '../helpers/fixtures';
import { codeAt, secretOf, wrongCodeAt } from '../helpers/mfa';

const STEP_MS = 30_000;

/**
 * The whole journey of an invited person, through the real MedplumClient wherever it has a
 * method: invite with mandatory MFA → welcome mail → activation link → set password → first
 * sign-in demands enrollment → wrong code 400 → right code → tokens → auth/me is the invited
 * profile → the next sign-in asks for a code → verify.
 */
describe('journey: invited with mandatory MFA, from the email to a verified second sign-in', () => {
  let baseUrl: string;
  // Near real time, so the client's own token-expiry checks agree with the server's clock.
  const clock = new TestClock(new Date());
  const t = useTestApp({ clock, smtp: true });
  /** Every response body any client saw, to scan for secrets. */
  const bodies: Array<{ url: string; body: string }> = [];

  const recordingFetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const res = await globalThis.fetch(input, init);
    bodies.push({ url: String(input instanceof Request ? input.url : input), body: await res.clone().text() });
    return res;
  };
  const newClient = (): MedplumClient => newMedplumClient(baseUrl, recordingFetch);

  beforeAll(async () => {
    baseUrl = await listen(t.app);
  });
  allowPlainPkceFallback();

  test('invite → mail → set password → enroll → token → me → verify', async () => {
    const email = `journey-${Date.now().toString(36)}@example.com`;
    const password = 'saffron kite over the harbour';
    const project = await createResource<Project>(repoOf(t.app), { resourceType: 'Project', name: 'Journey Clinic' });

    // 1. A super administrator invites a practitioner who must use MFA.
    const admin = newClient();
    await signInClient(admin);
    const membership = (await admin.invite(project.id as string, {
      resourceType: 'Practitioner',
      firstName: 'Grace',
      lastName: 'Hopper',
      email,
      mfaRequired: true,
    })) as ProjectMembership;
    expect(membership).toMatchObject({ resourceType: 'ProjectMembership', project: { reference: `Project/${project.id}` } });
    const profileRef = membership.profile?.reference as string;
    expect(profileRef).toMatch(/^Practitioner\//);

    // 2. The welcome mail arrives with the activation link.
    const mails = await t.smtp.waitFor(1, 15_000);
    const mail = mails.find((m) => (m.to as { text?: string } | undefined)?.text?.includes(email));
    expect(mail).toBeDefined();
    const link = /(https?:\/\/[^\s"<>]+\/setpassword\/[A-Za-z0-9_-]+\/[A-Za-z0-9_-]+)/.exec(mail?.text ?? '')?.[1] as string;
    expect(link).toBeDefined();
    const [, , id, activationSecret] = new URL(link).pathname.split('/');

    // 3. The link opens the page; the page's form posts to /auth/setpassword.
    const page = await globalThis.fetch(new URL(new URL(link).pathname, baseUrl));
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<form id="setpassword"');
    const invitee = newClient();
    await invitee.post('auth/setpassword', { id, secret: activationSecret, password });
    await expect(invitee.post('auth/setpassword', { id, secret: activationSecret, password })).rejects.toThrow(/already used/);

    // 4. The first sign-in demands enrollment and gives no code.
    const first = (await invitee.startLogin({ email, password })) as LoginAuthenticationResponse & { enrollUri?: string };
    expect(first.mfaEnrollRequired).toBe(true);
    expect(first.code).toBeUndefined();
    expect(first.enrollQrCode).toMatch(/^data:image\/png;base64,/);
    const mfaSecret = secretOf(first.enrollUri as string);

    // 5. A wrong code is refused (400); the right one answers a code.
    await expect(invitee.post('auth/mfa/login-enroll', { login: first.login, token: wrongCodeAt(mfaSecret, clock) })).rejects.toThrow(/not correct/);
    const enrolled = (await invitee.post('auth/mfa/login-enroll', { login: first.login, token: codeAt(mfaSecret, clock) })) as LoginAuthenticationResponse;
    expect(enrolled.code).toEqual(expect.any(String));

    // 6. The code gives tokens; auth/me is the invited profile.
    const profile = (await invitee.processCode(enrolled.code as string)) as Practitioner;
    expect(`Practitioner/${profile.id}`).toBe(profileRef);
    expect(profile.name?.[0]).toMatchObject({ given: ['Grace'], family: 'Hopper' });
    const me = await invitee.get('auth/me');
    expect(me.profile).toMatchObject({ resourceType: 'Practitioner', id: profile.id });
    expect(me.user).toMatchObject({ email });
    expect(await invitee.get('auth/mfa/status')).toEqual({ enrolled: true, mfaRequired: true, enrolledMethods: ['totp'], allowedMethods: ['totp'] });
    expect(invitee.getProject()?.id).toBe(project.id);

    // 7. The next sign-in asks for a code; verify finishes it.
    clock.advance(STEP_MS);
    const second = newClient();
    const again = await second.startLogin({ email, password });
    expect(again).toEqual({ login: expect.any(String), mfaRequired: true });
    const verified = (await second.post('auth/mfa/verify', { login: again.login, token: codeAt(mfaSecret, clock) })) as LoginAuthenticationResponse;
    const profileAgain = await second.processCode(verified.code as string);
    expect(profileAgain.id).toBe(profile.id);

    // 8. No secret in any response: the MFA secret only in the enrollment offer, never the
    //    password, and the activation secret only in the page its own link opened.
    for (const { url, body } of bodies) {
      expect(body).not.toContain(password);
      if (body.includes(mfaSecret)) {
        expect(body).toContain('"mfaEnrollRequired":true');
      }
      expect(body).not.toMatch(/passwordHash|mfaSecret|mfaPendingSecret|secretHash/);
      if (!url.includes('/setpassword/')) {
        expect(body).not.toContain(activationSecret);
      }
    }
  });
});

import type { Bundle, ProjectMembership, Resource } from '@medplum/fhirtypes';
import { createTestApp, TestClock, type TestApp } from '../helpers/app';
import { createProjectAdmin, type ProjectAdmin } from '../helpers/fhir';
import { uniqueEmail } from '../helpers/fixtures';
import { listen } from '../helpers/medplum';
import { startTestSmtp, type TestSmtp } from '../helpers/smtp';
import { expectedSignature, startTestWebhook, type ReceivedHook, type TestWebhook } from '../helpers/webhook';
import { DEFAULT_SUBSCRIPTION_POLICY } from '../../src/subscriptions/dispatcher';
import { eventId } from '../../src/subscriptions/outbox';
import { SUBSCRIPTION_SECRET_URL } from '../../src/subscriptions/subscription-rules';
import { backoffDelayMs } from '../../src/polling-loop';

/**
 * A peer's view, end to end, over real HTTP between listening servers on two databases.
 *
 * Instance A holds a project whose memberships a peer (instance B's operator) follows with a
 * client of its own on A (a ClientApplication made administrator of the project). With that
 * client the peer subscribes on A to the project's memberships and users; A's administrator then
 * invites two people, one activates their account, one is made administrator, the other's
 * membership is revoked (made inactive: the invite lifecycle's $revoke-invite is not on this
 * branch) and the last one removed — part of it while the peer's endpoint is down. Every change
 * arrives exactly once after de-duplication by event id, correctly signed, in order per
 * resource; the peer checks A's tokens by introspection; and a second mirror that polls
 * `_history?_since` with an overlap (as the README says) ends with the same view.
 */

const SECRET = 'peer-shared-secret-0123456789';
const OVERLAP_MS = 5_000;
const DELETED = 'deleted';
type View = Map<string, Resource | typeof DELETED>;

describe('a peer follows a project on another instance', () => {
  const clock = new TestClock(new Date());
  let smtp: TestSmtp;
  let a: TestApp;
  let b: TestApp;
  let baseA: string;
  let baseB: string;
  let webhook: TestWebhook;
  let admin: ProjectAdmin;
  let client: { id: string; secret: string };
  let peerToken: string;
  let subscriptions: { memberships: string; users: string };
  let startedAt: Date;
  const adaEmail = uniqueEmail('ada');
  const graceEmail = uniqueEmail('grace');
  const adaPassword = 'lovelace analytical engine';

  /** What the peer learnt from notifications: the view, the event ids seen, the order per resource. */
  const notified: View = new Map();
  const seenEvents = new Set<string>();
  const arrivals = new Map<string, string[]>();
  /** What the polling mirror learnt from _history. */
  const polled: View = new Map();
  const polledVersions = new Set<string>();
  const lastSeen: Record<string, number> = {};

  const basic = (): string => `Basic ${Buffer.from(`${client.id}:${client.secret}`).toString('base64')}`;

  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- answers of several shapes, read field by field
  async function http(base: string, method: string, path: string, options: { token?: string; authorization?: string; json?: unknown; form?: Record<string, string> } = {}): Promise<{ status: number; body: any }> {
    const headers: Record<string, string> = {};
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    if (options.authorization) headers.authorization = options.authorization;
    let body: string | undefined;
    if (options.json !== undefined) {
      headers['content-type'] = 'application/fhir+json';
      body = JSON.stringify(options.json);
    } else if (options.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(options.form).toString();
    }
    const res = await fetch(new URL(path, base), { method, headers, body });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  }

  /** The peer's endpoint: checks the signature, de-duplicates by event id, applies in arrival order. */
  function receive(hook: Omit<ReceivedHook, 'status'>): number {
    if (hook.headers['x-signature'] !== expectedSignature(SECRET, hook.body)) {
      return 401;
    }
    const id = hook.headers['x-event-id'] as string;
    if (seenEvents.has(id)) {
      return 200;
    }
    seenEvents.add(id);
    const deleted = hook.headers['x-medplum-deleted-resource'] as string | undefined;
    const resource = deleted ? undefined : (JSON.parse(hook.body) as Resource);
    const key = deleted ?? `${resource?.resourceType}/${resource?.id}`;
    notified.set(key, resource ?? DELETED);
    arrivals.set(key, [...(arrivals.get(key) ?? []), resource ? (resource.meta?.versionId as string) : DELETED]);
    return 200;
  }

  /** The polling mirror: _history since the last seen change minus an overlap, de-duplicated by id and version. */
  async function poll(): Promise<void> {
    for (const type of ['ProjectMembership', 'User']) {
      const since = new Date(Math.max(startedAt.getTime(), (lastSeen[type] ?? 0) - OVERLAP_MS));
      let url: string | undefined = `fhir/R4/${type}/_history?_since=${encodeURIComponent(since.toISOString())}&_count=3`;
      const entries: NonNullable<Bundle['entry']> = [];
      while (url) {
        const page = await http(baseA, 'GET', url, { token: peerToken });
        expect(page.status).toBe(200);
        const bundle = page.body as Bundle;
        entries.push(...(bundle.entry ?? []));
        // The link carries A's BASE_URL; the test's A listens on another port: keep its path and query.
        const next = bundle.link?.find((l) => l.relation === 'next')?.url;
        url = next ? `${new URL(next).pathname.slice(1)}${new URL(next).search}` : undefined;
      }
      const version = (e: (typeof entries)[number]): number => Number(/W\/"(\d+)"/.exec(e.response?.etag ?? '')?.[1]);
      entries.sort((x, y) => Date.parse(x.response?.lastModified ?? '') - Date.parse(y.response?.lastModified ?? '') || version(x) - version(y));
      for (const entry of entries) {
        const key = (entry.fullUrl as string).split('/fhir/R4/')[1];
        const stamp = Date.parse(entry.response?.lastModified as string);
        lastSeen[type] = Math.max(lastSeen[type] ?? 0, stamp);
        if (polledVersions.has(`${key}|${version(entry)}`) || stamp < startedAt.getTime()) {
          continue;
        }
        polledVersions.add(`${key}|${version(entry)}`);
        polled.set(key, entry.request?.method === 'DELETE' ? DELETED : (entry.resource as Resource));
      }
    }
  }

  const dispatch = () => a.app.ctx.subscriptions.dispatcher.runOnce();

  beforeAll(async () => {
    smtp = await startTestSmtp();
    webhook = await startTestWebhook();
    webhook.answer(receive);
    a = await createTestApp({ clock, env: { SMTP_URL: smtp.url, SUBSCRIPTION_ALLOWED_HOSTS: '127.0.0.1', SUBSCRIPTION_POLL_MS: '0' } });
    b = await createTestApp();
    baseA = await listen(a.app);
    baseB = await listen(b.app);

    // On A: a project with its administrator, who makes a client for the peer and makes it administrator too.
    admin = await createProjectAdmin(a.app, 'Federated clinic', uniqueEmail('fed-admin'));
    const made = await http(baseA, 'POST', `admin/projects/${admin.projectId}/client`, { token: admin.session.accessToken, json: { name: 'Instance B' } });
    expect(made.status).toBe(201);
    client = { id: made.body.id, secret: made.body.secret };
    const found = await http(baseA, 'GET', `fhir/R4/ProjectMembership?user=ClientApplication/${client.id}`, { token: admin.session.accessToken });
    const membership = found.body.entry[0].resource as ProjectMembership;
    expect((await http(baseA, 'PUT', `fhir/R4/ProjectMembership/${membership.id}`, { token: admin.session.accessToken, json: { ...membership, admin: true } })).status).toBe(200);

    // The peer signs in with its client and subscribes to the project's memberships and users.
    const token = await http(baseA, 'POST', 'oauth2/token', { authorization: basic(), form: { grant_type: 'client_credentials' } });
    expect(token.status).toBe(200);
    peerToken = token.body.access_token;
    clock.advance(10_000);
    startedAt = clock.now();
    const subscribe = async (criteria: string): Promise<string> => {
      const res = await http(baseA, 'POST', 'fhir/R4/Subscription', {
        token: peerToken,
        json: {
          resourceType: 'Subscription',
          status: 'active',
          reason: 'Instance B mirrors the project',
          criteria,
          channel: { type: 'rest-hook', endpoint: webhook.url, payload: 'application/fhir+json' },
          extension: [{ url: SUBSCRIPTION_SECRET_URL, valueString: SECRET }],
        },
      });
      expect(res.status).toBe(201);
      return res.body.id;
    };
    subscriptions = {
      memberships: await subscribe(`ProjectMembership?project=Project/${admin.projectId}`),
      users: await subscribe(`User?project=Project/${admin.projectId}`),
    };
  });

  afterAll(async () => {
    await a?.close();
    await b?.close();
    await webhook?.close();
    await smtp?.stop();
  });

  test('invites, an activation, an admin flag, a revoke and a removal each arrive once, signed, in order; the endpoint’s outage only delays them; A’s tokens are checked by introspection', async () => {
    const adminToken = admin.session.accessToken;
    const invite = async (firstName: string, email: string): Promise<ProjectMembership> => {
      const res = await http(baseA, 'POST', `fhir/R4/Project/${admin.projectId}/$invite`, {
        token: adminToken,
        json: { resourceType: 'Practitioner', firstName, lastName: 'Peer', email, scope: 'project' },
      });
      expect(res.status).toBe(201);
      return res.body.parameter.find((p: { name: string }) => p.name === 'membership').resource;
    };
    const update = async (id: string, fields: Partial<ProjectMembership>): Promise<void> => {
      const current = await http(baseA, 'GET', `fhir/R4/ProjectMembership/${id}`, { token: adminToken });
      expect((await http(baseA, 'PUT', `fhir/R4/ProjectMembership/${id}`, { token: adminToken, json: { ...current.body, ...fields } })).status).toBe(200);
      clock.advance(1_000);
    };

    // Two invites; the peer's mirror polls in between.
    const ada = await invite('Ada', adaEmail);
    clock.advance(1_000);
    const grace = await invite('Grace', graceEmail);
    clock.advance(1_000);
    await poll();

    // Ada activates her account through the mailed link.
    const mails = await smtp.waitFor(2, 15_000);
    const mail = mails.find((m) => (m.to as { text?: string }).text?.includes(adaEmail));
    const link = /(https?:\/\/[^\s"<>]+\/setpassword\/[A-Za-z0-9_-]+\/[A-Za-z0-9_-]+)/.exec(mail?.text ?? '')?.[1] as string;
    const [, , linkId, linkSecret] = new URL(link).pathname.split('/');
    expect((await http(baseA, 'POST', 'auth/setpassword', { json: { id: linkId, secret: linkSecret, password: adaPassword } })).status).toBe(200);
    clock.advance(1_000);
    expect(await dispatch()).toBeGreaterThanOrEqual(5);

    // The peer checks A's tokens with its client: Ada's is active until she signs out.
    const adaToken = await signInAt(baseA, adaEmail, adaPassword, admin.projectId);
    const active = await http(baseA, 'POST', 'oauth2/introspect', { authorization: basic(), form: { token: adaToken } });
    expect(active.body).toMatchObject({ active: true, sub: (ada.user?.reference as string).split('/')[1], project: { reference: `Project/${admin.projectId}` } });
    // B's own introspection does not know A's tokens.
    const bAdmin = await createProjectAdmin(b.app, 'Instance B', uniqueEmail('b-admin'));
    const bClient = (await http(baseB, 'POST', `admin/projects/${bAdmin.projectId}/client`, { token: bAdmin.session.accessToken, json: { name: 'local' } })).body;
    const atB = await http(baseB, 'POST', 'oauth2/introspect', { authorization: `Basic ${Buffer.from(`${bClient.id}:${bClient.secret}`).toString('base64')}`, form: { token: adaToken } });
    expect(atB.body).toEqual({ active: false });
    expect((await http(baseA, 'POST', 'oauth2/logout', { token: adaToken })).status).toBe(200);
    const inactive = await http(baseA, 'POST', 'oauth2/introspect', { authorization: basic(), form: { token: adaToken } });
    expect(inactive).toEqual({ status: 200, body: { active: false } });

    // The endpoint goes down; Grace is made administrator, Ada's membership revoked.
    await webhook.stopListening();
    await update(grace.id as string, { admin: true });
    let failures = 0;
    expect(await dispatch()).toBe(0);
    failures++;
    await update(ada.id as string, { active: false });
    clock.advance(backoffDelayMs(failures, DEFAULT_SUBSCRIPTION_POLICY.baseDelayMs, DEFAULT_SUBSCRIPTION_POLICY.maxDelayMs));
    expect(await dispatch()).toBe(0);
    failures++;
    await poll();
    // Grace is removed (with her project-scoped account, her last membership gone).
    const removed = await http(baseA, 'DELETE', `fhir/R4/ProjectMembership/${grace.id}`, { token: adminToken });
    expect(removed.status).toBe(200);
    clock.advance(1_000);

    // The endpoint is back: after the backoff everything queued arrives.
    await webhook.start();
    clock.advance(backoffDelayMs(failures, DEFAULT_SUBSCRIPTION_POLICY.baseDelayMs, DEFAULT_SUBSCRIPTION_POLICY.maxDelayMs));
    expect(await dispatch()).toBeGreaterThanOrEqual(4);
    expect(await dispatch()).toBe(0);

    // Every version A wrote of the project's memberships and users since the peer subscribed is one event.
    const expected = new Set<string>();
    const expectedOrder = new Map<string, string[]>();
    for (const [type, subscription] of [
      ['ProjectMembership', subscriptions.memberships],
      ['User', subscriptions.users],
    ] as const) {
      const versions = await a.app.ctx.database.db
        .collection<{ id: string; version: number; deleted: boolean; lastUpdated: Date }>(`${type}_history`)
        .find({ project: admin.projectId, lastUpdated: { $gte: startedAt } })
        .sort({ version: 1 })
        .toArray();
      for (const v of versions) {
        expected.add(eventId(subscription, type, v.id, v.version));
        const key = `${type}/${v.id}`;
        expectedOrder.set(key, [...(expectedOrder.get(key) ?? []), v.deleted ? DELETED : String(v.version)]);
      }
    }
    expect(expected.size).toBeGreaterThanOrEqual(9);
    expect(seenEvents).toEqual(expected);
    // Every request that reached the peer was signed right; retries repeat an event id, never a version.
    expect(webhook.received.every((h) => h.status === 200)).toBe(true);
    expect(new Set(webhook.received.map((h) => h.headers['x-event-id'])).size).toBe(webhook.received.length);
    // In order per resource, the deletions last.
    expect(Object.fromEntries(arrivals)).toEqual(Object.fromEntries(expectedOrder));
    expect(arrivals.get(`ProjectMembership/${grace.id}`)).toEqual(['1', '2', DELETED]);
    expect((notified.get(`ProjectMembership/${ada.id}`) as ProjectMembership).active).toBe(false);
    expect(notified.get(`User/${(ada.user?.reference as string).split('/')[1]}`)).toMatchObject({ emailVerified: true });

    // The view equals A's current state as the peer's client reads it.
    for (const [key, value] of notified) {
      const current = await http(baseA, 'GET', `fhir/R4/${key}`, { token: peerToken });
      if (value === DELETED) {
        expect([key, current.status]).toEqual([key, 410]);
      } else {
        expect(current.status).toBe(200);
        expect(current.body).toEqual(value);
      }
    }

  });

  test('a mirror polling _history?_since with an overlap ends with the same view', async () => {
    await poll();
    await poll();
    expect([...polled.keys()].sort()).toEqual([...notified.keys()].sort());
    for (const [key, value] of notified) {
      expect([key, polled.get(key)]).toEqual([key, value]);
    }
  });

  /** Password sign-in at `base` (PKCE, as MedplumClient does it); answers the access token. */
  async function signInAt(base: string, email: string, password: string, projectId: string): Promise<string> {
    const { createHash, randomBytes } = await import('node:crypto');
    const verifier = randomBytes(32).toString('base64url');
    const challenge = createHash('sha256').update(verifier).digest('base64url');
    const started = await http(base, 'POST', 'auth/login', { json: { email, password, projectId, codeChallenge: challenge, codeChallengeMethod: 'S256' } });
    expect([started.status, started.body]).toEqual([200, expect.objectContaining({ code: expect.any(String) })]);
    const tokens = await http(base, 'POST', 'oauth2/token', { form: { grant_type: 'authorization_code', code: started.body.code, code_verifier: verifier } });
    expect(tokens.status).toBe(200);
    return tokens.body.access_token;
  }
});

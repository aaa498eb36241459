import type { AuditEvent, Bundle } from '@medplum/fhirtypes';
import type { LightMyRequestResponse } from 'fastify';
import { AUDIT_COLLECTION, type StoredAuditEvent } from '../../src/audit/audit-store';
import { SUBTYPE_SYSTEM } from '../../src/audit/audit-event';
import { codeExchange, form, pkce } from '../helpers/auth';
import { createPolicyMember, createProjectAdmin, FHIR_JSON } from '../helpers/fhir';
import { outputs, postInvite, uniqueEmail } from '../helpers/invite';
import { useSignIn, useTestApp } from '../helpers/suite';

/**
 * The audit trail over HTTP: each action leaves exactly one event of its kind with the right
 * agent, entity and outcome (failures included); project admins see their project's events,
 * members none, the super admin all; every write on AuditEvent is 405 for everyone.
 */

type Stored = StoredAuditEvent;

describe('audit events', () => {
  const t = useTestApp();
  const admin = useSignIn(t);
  let second: Awaited<ReturnType<typeof createProjectAdmin>>;

  beforeAll(async () => {
    second = await createProjectAdmin(t.app, 'Audited', uniqueEmail('audited-admin'));
  });

  const kindOf = (e: AuditEvent): string | undefined => e.subtype?.find((s) => s.system === SUBTYPE_SYSTEM)?.code;
  /** Every stored event of a kind, once the events recorded without waiting have landed. */
  const events = async (kind: string, filter: Record<string, unknown> = {}): Promise<Stored[]> => {
    await t.app.ctx.audit.drain();
    const docs = await t.app.ctx.database.db.collection<Stored>(AUDIT_COLLECTION).find(filter).toArray();
    return docs.filter((d) => kindOf(d.resource) === kind);
  };
  const search = (headers: Record<string, string>, query: string): Promise<LightMyRequestResponse> => t.app.inject({ method: 'GET', url: `/fhir/R4/AuditEvent?${query}`, headers });
  const ids = (res: LightMyRequestResponse): string[] => ((res.json() as Bundle).entry ?? []).map((e) => e.resource?.id as string);

  test('an invite leaves one invite event: the admin as requestor, the membership, user and profile as entities, the email status', async () => {
    const email = uniqueEmail('audit-invitee');
    const res = await postInvite(t.app, second.session.headers, second.projectId, { resourceType: 'Practitioner', firstName: 'Audit', lastName: 'Invitee', email, sendEmail: false, membership: { admin: true } });
    expect(res.statusCode).toBe(201);
    const membership = outputs(res).membership;
    const found = (await events('invite')).filter((d) => d.resource.entity?.[0].what?.reference === `ProjectMembership/${membership.id}`);
    expect(found).toHaveLength(1);
    const event = found[0].resource;
    expect(found[0].project).toBe(second.projectId);
    expect(event.action).toBe('E');
    expect(event.outcome).toBe('0');
    expect(event.type.code).toBe('rest');
    const requestor = event.agent.find((a) => a.requestor);
    expect(requestor?.who?.reference).toBe(`Practitioner/${second.practitionerId}`);
    expect(requestor?.altId).toBe(`User/${second.userId}`);
    expect(event.agent.some((a) => a.requestor === false)).toBe(true);
    const details = Object.fromEntries((event.entity?.[0].detail ?? []).map((d) => [d.type, d.valueString]));
    expect(details).toMatchObject({ role: 'Practitioner', admin: 'true', emailStatus: 'skipped', scope: 'server', mfaRequired: 'false', membershipCreated: 'true' });
    expect(event.entity?.map((e) => e.what?.reference)).toEqual([`ProjectMembership/${membership.id}`, outputs(res).user.reference, `Practitioner/${outputs(res).profile.id}`]);
    expect(JSON.stringify(event)).not.toContain(email);

    // The project's admin finds it by subtype, newest first; the super admin too.
    const byAdmin = await search(second.session.headers, `subtype=${SUBTYPE_SYSTEM}|invite&_sort=-date`);
    expect(byAdmin.statusCode).toBe(200);
    expect(ids(byAdmin)).toContain(found[0]._id);
    expect(ids(await search(admin.headers, `entity=ProjectMembership/${membership.id}`))).toEqual([found[0]._id]);
    expect((await t.app.inject({ method: 'GET', url: `/fhir/R4/AuditEvent/${found[0]._id}`, headers: second.session.headers })).statusCode).toBe(200);
  });

  test('membership update with the admin flag and AccessPolicy create/update/delete each leave their event', async () => {
    const policy = await t.app.inject({ method: 'POST', url: '/fhir/R4/AccessPolicy', headers: { ...second.session.headers, ...FHIR_JSON }, payload: { resourceType: 'AccessPolicy', name: 'Audited policy', resource: [{ resourceType: 'Patient' }] } });
    expect(policy.statusCode).toBe(201);
    const policyId = (policy.json() as { id: string }).id;
    const policyFilter = { 'resource.entity.what.reference': `AccessPolicy/${policyId}` };
    expect(await events('access-policy-create', policyFilter)).toHaveLength(1);
    const updated = await t.app.inject({ method: 'PUT', url: `/fhir/R4/AccessPolicy/${policyId}`, headers: { ...second.session.headers, ...FHIR_JSON }, payload: { ...(policy.json() as object), name: 'Renamed' } });
    expect(updated.statusCode).toBe(200);
    expect(await events('access-policy-update', policyFilter)).toHaveLength(1);

    const invited = await postInvite(t.app, second.session.headers, second.projectId, { resourceType: 'Practitioner', firstName: 'Flag', lastName: 'Member', email: uniqueEmail('audit-flag'), sendEmail: false });
    const membership = outputs(invited).membership;
    const current = (await t.app.inject({ method: 'GET', url: `/fhir/R4/ProjectMembership/${membership.id}`, headers: second.session.headers })).json() as object;
    const put = await t.app.inject({ method: 'PUT', url: `/fhir/R4/ProjectMembership/${membership.id}`, headers: { ...second.session.headers, ...FHIR_JSON }, payload: { ...current, admin: true, accessPolicy: { reference: `AccessPolicy/${policyId}` } } });
    expect(put.statusCode).toBe(200);
    const filter = { 'resource.entity.what.reference': `ProjectMembership/${membership.id}` };
    expect(await events('membership-update', filter)).toHaveLength(1);
    expect(await events('admin-changed', filter)).toHaveLength(1);
    expect(await events('membership-policy-changed', filter)).toHaveLength(1);
    const deleted = await t.app.inject({ method: 'DELETE', url: `/fhir/R4/ProjectMembership/${membership.id}`, headers: second.session.headers });
    expect(deleted.statusCode).toBe(200);
    const [removal] = await events('membership-delete', filter);
    expect(removal.resource.action).toBe('D');
    expect(removal.resource.agent.find((a) => a.requestor)?.altId).toBe(`User/${second.userId}`);
    expect((await t.app.inject({ method: 'DELETE', url: `/fhir/R4/AccessPolicy/${policyId}`, headers: second.session.headers })).statusCode).toBe(200);
    expect(await events('access-policy-delete', policyFilter)).toHaveLength(1);
  });

  test('a client creation leaves one event without the secret', async () => {
    const res = await t.app.inject({ method: 'POST', url: `/admin/projects/${second.projectId}/client`, headers: second.session.headers, payload: { name: 'Audited client' } });
    expect(res.statusCode).toBe(201);
    const client = res.json() as { id: string; secret: string };
    const found = await events('client-create', { 'resource.entity.what.reference': `ClientApplication/${client.id}` });
    expect(found).toHaveLength(1);
    expect(found[0].project).toBe(second.projectId);
    expect(JSON.stringify(found[0])).not.toContain(client.secret);

    // Its sign-ins (client credentials), accepted and refused, are events too, never with the secret.
    const token = (secret: string) => t.app.inject({ method: 'POST', url: '/oauth2/token', ...form({ grant_type: 'client_credentials', client_id: client.id, client_secret: secret }) });
    const granted = await token(client.secret);
    expect(granted.statusCode).toBe(200);
    expect((await token('not-the-secret-at-all')).statusCode).toBe(400);
    const signIns = await events('sign-in', { 'resource.agent.altId': `ClientApplication/${client.id}` });
    expect(signIns.map((d) => [d.resource.outcome, d.resource.outcomeDesc, d.project])).toEqual([['0', 'client credentials accepted', second.projectId]]);
    const refused = (await events('sign-in')).filter((d) => d.resource.outcomeDesc === 'invalid-client');
    expect(refused).toHaveLength(1);
    const all = JSON.stringify(await events('sign-in'));
    expect(all).not.toContain(client.secret);
    expect(all).not.toContain((granted.json() as { access_token: string }).access_token);
  });

  test('a refused sign-in leaves one event with a reason code, alike for an unknown email and a wrong password', async () => {
    const before = (await events('sign-in')).length;
    const unknown = uniqueEmail('nobody');
    for (const payload of [{ email: unknown, password: 'whatever-password-1' }, { email: 'admin@example.com', password: 'not-the-password-1' }]) {
      const res = await t.app.inject({ method: 'POST', url: '/auth/login', payload });
      expect(res.statusCode).toBe(400);
    }
    const all = await events('sign-in');
    expect(all).toHaveLength(before + 2);
    const refused = all.filter((d) => d.resource.outcome === '4').slice(-2);
    expect(refused.map((d) => d.resource.outcomeDesc)).toEqual(['invalid-credentials', 'invalid-credentials']);
    expect(JSON.stringify(refused)).not.toContain(unknown);
    expect(JSON.stringify(refused)).not.toContain('not-the-password-1');
    expect(refused[0].resource.agent.find((a) => a.requestor)?.altId).toBeUndefined();
    expect(refused[1].resource.agent.find((a) => a.requestor)?.altId).toMatch(/^User\//);
  });

  test('a successful sign-in and a sign-out each leave one event', async () => {
    const before = (await events('sign-in', { 'resource.outcome': '0', project: second.projectId })).length;
    const { verifier, challenge } = pkce();
    const login = await t.app.inject({ method: 'POST', url: '/auth/login', payload: { email: (await emailOf(second.userId)) as string, password: 'second-admin-password-42', codeChallenge: challenge, codeChallengeMethod: 'S256' } });
    expect(login.statusCode).toBe(200);
    const token = await t.app.inject(codeExchange((login.json() as { code: string }).code, verifier));
    const access = (token.json() as { access_token: string }).access_token;
    expect(await events('sign-in', { 'resource.outcome': '0', project: second.projectId })).toHaveLength(before + 1);
    const out = await t.app.inject({ method: 'POST', url: '/auth/logout', headers: { authorization: `Bearer ${access}` } });
    expect(out.statusCode).toBe(200);
    const signOuts = await events('sign-out', { project: second.projectId });
    expect(signOuts).toHaveLength(1);
    expect(JSON.stringify(signOuts[0])).not.toContain(access);
  });

  const emailOf = async (userId: string): Promise<string | undefined> => {
    const doc = await t.app.ctx.database.db.collection<{ _id: string; resource: { email?: string } }>('User').findOne({ _id: userId });
    return doc?.resource.email;
  };

  test('a 403 on the FHIR API leaves one access-denied event; members see no events; other projects see none of these', async () => {
    const member = await createPolicyMember(t.app, second.projectId, uniqueEmail('audit-member'), { resourceType: 'AccessPolicy', name: 'Patients only', resource: [{ resourceType: 'Patient' }] });
    const refused = await search(member.headers, '_count=10');
    expect(refused.statusCode).toBe(403);
    const denied = await events('access-denied', { project: second.projectId });
    expect(denied).toHaveLength(1);
    expect(denied[0].resource.subtype?.map((c) => c.code)).toEqual(['search-type', 'access-denied']);
    expect(denied[0].resource.outcome).toBe('4');
    expect(denied[0].resource.outcomeDesc).toContain('GET /fhir/R4/AuditEvent');
    expect(denied[0].resource.agent[0].altId).toMatch(/^User\//);
    // An operation refused with 403 too: its target is the entity.
    const invite = await postInvite(t.app, member.headers, second.projectId, { resourceType: 'Patient', firstName: 'Not', lastName: 'Allowed', email: uniqueEmail('not-allowed'), sendEmail: false });
    expect(invite.statusCode).toBe(403);
    const deniedInvite = (await events('access-denied', { project: second.projectId })).filter((d) => d.resource.entity?.[0]?.what?.reference === `Project/${second.projectId}`);
    expect(deniedInvite).toHaveLength(1);
    expect(deniedInvite[0].resource.subtype?.map((c) => c.code)).toEqual(['operation', 'access-denied']);

    // An AccessPolicy cannot open the trail to a member: AuditEvent is an administrative type.
    const granted = await createPolicyMember(t.app, second.projectId, uniqueEmail('audit-granted'), { resourceType: 'AccessPolicy', name: 'Wants the trail', resource: [{ resourceType: 'AuditEvent' }] });
    expect((await search(granted.headers, '_count=10')).statusCode).toBe(403);
    expect((await t.app.inject({ method: 'GET', url: `/fhir/R4/AuditEvent/${denied[0]._id}`, headers: granted.headers })).statusCode).toBe(403);

    // Nor can a member reach events through _revinclude, _include or a search of several types.
    const reader = await createPolicyMember(t.app, second.projectId, uniqueEmail('audit-reader'), { resourceType: 'AccessPolicy', name: 'Practitioners', resource: [{ resourceType: 'Practitioner' }] });
    const through = await t.app.inject({ method: 'GET', url: '/fhir/R4/Practitioner?_revinclude=AuditEvent:entity&_revinclude=AuditEvent:agent&_count=100', headers: reader.headers });
    expect([200, 403]).toContain(through.statusCode);
    expect(((through.json() as Bundle).entry ?? []).filter((e) => e.resource?.resourceType === 'AuditEvent')).toEqual([]);
    // (The same search by the project's administrator does bring events: the member's answer is a refusal, not an empty project.)
    const byAdmin = await t.app.inject({ method: 'GET', url: '/fhir/R4/Practitioner?_revinclude=AuditEvent:entity&_count=100', headers: second.session.headers });
    expect(((byAdmin.json() as Bundle).entry ?? []).some((e) => e.resource?.resourceType === 'AuditEvent')).toBe(true);
    const several = await t.app.inject({ method: 'GET', url: '/fhir/R4?_count=100', headers: reader.headers });
    expect(((several.json() as Bundle).entry ?? []).filter((e) => e.resource?.resourceType === 'AuditEvent')).toEqual([]);
    expect((await t.app.inject({ method: 'GET', url: '/fhir/R4?_type=AuditEvent', headers: reader.headers })).statusCode).toBe(403);

    // Another project's administrator sees none of this project's events.
    const third = await createProjectAdmin(t.app, 'Elsewhere', uniqueEmail('elsewhere-admin'));
    const theirs = await search(third.session.headers, '_count=1000');
    expect(theirs.statusCode).toBe(200);
    const secondIds = new Set((await t.app.ctx.database.db.collection<Stored>(AUDIT_COLLECTION).find({ project: second.projectId }).toArray()).map((d) => d._id));
    expect(ids(theirs).filter((id) => secondIds.has(id))).toEqual([]);
    expect((await t.app.inject({ method: 'GET', url: `/fhir/R4/AuditEvent/${denied[0]._id}`, headers: third.session.headers })).statusCode).toBe(404);
    // The super admin sees everything.
    expect(ids(await search(admin.headers, `_id=${denied[0]._id}`))).toEqual([denied[0]._id]);
  });

  test('every write on AuditEvent is 405, for the super admin too, however it is sent', async () => {
    const [one] = await t.app.ctx.database.db.collection<Stored>(AUDIT_COLLECTION).find({}).limit(1).toArray();
    const body = { resourceType: 'AuditEvent', type: { code: 'rest' }, recorded: new Date().toISOString(), agent: [{ requestor: true }], source: { observer: { display: 'x' } } };
    const tries: { method: 'POST' | 'PUT' | 'PATCH' | 'DELETE'; url: string; payload?: unknown; headers?: Record<string, string> }[] = [
      { method: 'POST', url: '/fhir/R4/AuditEvent', payload: body },
      { method: 'POST', url: '/fhir/R4/Audit%45vent', payload: body },
      { method: 'POST', url: '/fhir/R4/AuditEvent', payload: body, headers: { 'if-none-exist': '_id=nothing' } },
      { method: 'PUT', url: `/fhir/R4/AuditEvent/${one._id}`, payload: { ...one.resource } },
      { method: 'PUT', url: `/fhir/R4/AuditEvent/${one._id}`.replace('AuditEvent', 'Audit%45vent'), payload: { ...one.resource } },
      { method: 'PUT', url: '/fhir/R4/AuditEvent/new-audit-id', payload: { ...body, id: 'new-audit-id' } },
      { method: 'PUT', url: `/fhir/R4/AuditEvent?_id=${one._id}`, payload: { ...one.resource } },
      { method: 'PATCH', url: `/fhir/R4/AuditEvent/${one._id}`, payload: JSON.stringify([{ op: 'replace', path: '/outcome', value: '0' }]), headers: { 'content-type': 'application/json-patch+json' } },
      { method: 'DELETE', url: `/fhir/R4/AuditEvent/${one._id}` },
      { method: 'DELETE', url: `/fhir/R4/AuditEvent?_id=${one._id}` },
    ];
    for (const headers of [admin.headers, second.session.headers]) {
      for (const attempt of tries) {
        const res = await t.app.inject({ method: attempt.method, url: attempt.url, headers: { ...headers, ...(attempt.payload !== undefined ? FHIR_JSON : {}), ...attempt.headers }, ...(attempt.payload !== undefined ? { payload: attempt.payload as string } : {}) });
        expect([attempt.method, attempt.url, res.statusCode]).toEqual([attempt.method, attempt.url, 405]);
      }
    }
    for (const type of ['batch', 'transaction']) {
      const res = await t.app.inject({
        method: 'POST',
        url: '/fhir/R4',
        headers: { ...admin.headers, ...FHIR_JSON },
        payload: { resourceType: 'Bundle', type, entry: [{ resource: body, request: { method: 'POST', url: 'AuditEvent' } }, { request: { method: 'DELETE', url: `AuditEvent/${one._id}` } }] },
      });
      const answer = res.json() as Bundle & { issue?: unknown };
      const statuses = type === 'batch' ? answer.entry?.map((e) => e.response?.status?.slice(0, 3)) : [String(res.statusCode)];
      expect(statuses).toEqual(type === 'batch' ? ['405', '405'] : ['405']);
    }
    const after = await t.app.ctx.database.db.collection<Stored>(AUDIT_COLLECTION).findOne({ _id: one._id });
    expect(after?.resource).toEqual(one.resource);
  });

  test('the health output counts events that could not be written', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/healthcheck' });
    expect(res.json()).toMatchObject({ ok: true, auditFailures: 0 });
  });
});

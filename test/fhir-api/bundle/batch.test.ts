import type { Bundle, BundleEntry, Parameters, Patient, ProjectMembership } from '@medplum/fhirtypes';
import type { ResourceChange } from '../../../src/fhir/changes';
import { snapshotDatabase } from '../../helpers/app';
import { FHIR_JSON, issues, post } from '../../helpers/fhir';
import { createProject, uniqueEmail } from '../../helpers/fixtures';
import { countCurrent, toParameters } from '../../helpers/invite';
import { useSignIn, useTestApp } from '../../helpers/suite';

const batch = (entry: BundleEntry[]): Bundle => ({ resourceType: 'Bundle', type: 'batch', entry });

describe('batch Bundles (POST /fhir/R4)', () => {
  const changes: ResourceChange[] = [];
  const t = useTestApp({ changeListeners: [async (change) => void changes.push(change)] });
  const admin = useSignIn(t);

  const send = (bundle: unknown, headers: Record<string, string> = {}) =>
    t.app.inject({ method: 'POST', url: '/fhir/R4', headers: { ...admin.headers, ...FHIR_JSON, ...headers }, payload: bundle as object });

  test('each entry runs on its own: refused ones answer their own status and outcome, the others are written', async () => {
    const kept = await post<Patient>(t.app, admin.headers, { resourceType: 'Patient', name: [{ family: 'Batchy' }] });
    changes.length = 0;
    const res = await send(
      batch([
        { resource: { resourceType: 'Patient', name: [{ family: 'Made' }] }, request: { method: 'POST', url: 'Patient' } },
        { resource: { ...kept, active: true }, request: { method: 'PUT', url: `Patient/${kept.id}`, ifMatch: 'W/"9"' } },
        { resource: { resourceType: 'Patient', birthDate: 'not a date' }, request: { method: 'POST', url: 'Patient' } },
        { request: { method: 'GET', url: `Patient?family=Batchy` } },
        { request: { method: 'GET', url: 'Observation/1' } },
        { resource: { ...kept, active: false }, request: { method: 'PUT', url: `Patient/${kept.id}`, ifMatch: 'W/"1"' } },
        { request: { method: 'DELETE', url: 'Patient/no-such-patient' } },
      ]),
    );
    expect(res.statusCode).toBe(200);
    const body = res.json() as Bundle;
    expect(body.type).toBe('batch-response');
    const statuses = body.entry?.map((e) => e.response?.status);
    expect(statuses).toEqual(['201 Created', '412 Precondition Failed', '400 Bad Request', '200 OK', '404 Not Found', '200 OK', '404 Not Found']);
    expect(body.entry?.[1].response?.outcome?.issue?.[0].expression).toEqual(['If-Match']);
    expect(body.entry?.[2].response?.outcome?.issue?.[0].expression?.[0]).toMatch(/^Patient\.birthDate/);
    expect((body.entry?.[3].resource as Bundle).entry?.map((e) => e.resource?.id)).toEqual([kept.id]);
    expect(body.entry?.[5].response?.etag).toBe('W/"2"');
    expect(((await t.app.inject({ method: 'GET', url: `/fhir/R4/Patient/${kept.id}`, headers: admin.headers })).json() as Patient).active).toBe(false);
    // Writes of a batch are marked as such for the change listeners.
    expect(changes.map((c) => `${c.method} ${c.operation}`)).toEqual(['POST batch', 'PUT batch']);
  });

  // Slow on the embedded engine (each invite's commit grows with the data: about 45 s alone), hence its own timeout.
  test('200 invites in one batch, each with its own result; a repeated invite answers its own 409', async () => {
    const project = await createProject(t.app, { name: 'Big batch' });
    const other = await createProject(t.app, { name: 'Elsewhere' });
    const emails = Array.from({ length: 200 }, () => uniqueEmail('batch'));
    const invite = (projectId: string, email: string): BundleEntry => ({
      resource: toParameters({ resourceType: 'Practitioner', firstName: 'Batch', lastName: 'Invitee', email, sendEmail: false }),
      request: { method: 'POST', url: `Project/${projectId}/$invite` },
    });
    const res = await send(batch([...emails.map((email) => invite(project.id, email)), invite(project.id, emails[0]), invite(other.id, uniqueEmail())]));
    expect(res.statusCode).toBe(200);
    const entries = (res.json() as Bundle).entry ?? [];
    expect(entries).toHaveLength(202);
    for (const [i, entry] of entries.slice(0, 200).entries()) {
      expect(entry.response?.status).toBe('201 Created');
      const output = entry.resource as Parameters;
      expect(output.resourceType).toBe('Parameters');
      const user = output.parameter?.find((p) => p.name === 'user')?.valueReference;
      expect(user?.display).toBe(emails[i]);
    }
    expect(entries[200].response?.status).toBe('409 Conflict');
    expect(entries[200].response?.outcome?.resourceType).toBe('OperationOutcome');
    // The super administrator may invite into any project: the last one is created too.
    expect(entries[201].response?.status).toBe('201 Created');
    expect(await countCurrent(t.app, 'ProjectMembership', { project: project.id })).toBe(200);
  }, 300_000);

  test('an entry whose url leaves the FHIR API, names another server or nests a Bundle is refused on its own', async () => {
    const before = await snapshotDatabase(t.app);
    const answered = await send(
      batch([
        { request: { method: 'GET', url: '../auth/me' } },
        { request: { method: 'GET', url: 'Patient/%2e%2e/auth' } },
        { request: { method: 'GET', url: 'https://elsewhere.example/fhir/R4/Patient/1' } },
        { request: { method: 'GET', url: '//elsewhere.example/Patient' } },
        { resource: { resourceType: 'Bundle', type: 'batch' }, request: { method: 'POST', url: '' } },
        { request: { method: 'TRACE' as 'GET', url: 'Patient' } },
        { request: { method: 'GET', url: 'metadata' } },
      ]),
    );
    expect(answered.statusCode).toBe(200);
    const entries = (answered.json() as Bundle).entry ?? [];
    expect(entries.map((e) => e.response?.status)).toEqual(['400 Bad Request', '400 Bad Request', '400 Bad Request', '400 Bad Request', '400 Bad Request', '400 Bad Request', '200 OK']);
    expect(entries[0].response?.outcome?.issue?.[0].expression).toEqual(['Bundle.entry[0].request.url']);
    expect(entries[5].response?.outcome?.issue?.[0].expression).toEqual(['Bundle.entry[5].request.method']);
    // What the FHIR API serves besides the REST interactions is reached through its own route.
    expect(entries[6].resource?.resourceType).toBe('CapabilityStatement');
    expect(await snapshotDatabase(t.app)).toEqual(before);
  });

  test('a batch over 500 entries is 413 and runs none of them', async () => {
    const before = await snapshotDatabase(t.app);
    const entry = { resource: { resourceType: 'Patient' }, request: { method: 'POST', url: 'Patient' } } as BundleEntry;
    const res = await send(batch(Array.from({ length: 501 }, () => entry)));
    expect(res.statusCode).toBe(413);
    expect(issues(res)[0]).toMatchObject({ code: 'too-costly', expression: ['Bundle.entry'] });
    expect(await snapshotDatabase(t.app)).toEqual(before);
  });

  test('the body must be a batch or transaction Bundle sent as JSON', async () => {
    expect(issues(await send({ resourceType: 'Patient' }))[0].expression).toEqual(['resourceType']);
    const searchset = await send({ resourceType: 'Bundle', type: 'searchset' });
    expect(searchset.statusCode).toBe(400);
    expect(issues(searchset)[0].expression).toEqual(['Bundle.type']);
    const noRequest = await send({ resourceType: 'Bundle', type: 'batch', entry: [{ resource: { resourceType: 'Patient' } }] });
    expect(noRequest.statusCode).toBe(400);
    expect(issues(noRequest)[0].expression).toEqual(['Bundle.entry[0].request']);
    const form = await t.app.inject({ method: 'POST', url: '/fhir/R4', headers: { ...admin.headers, 'content-type': 'application/x-www-form-urlencoded' }, payload: 'a=b' });
    expect(form.statusCode).toBe(415);
    const anonymous = await t.app.inject({ method: 'POST', url: '/fhir/R4', headers: FHIR_JSON, payload: batch([]) });
    expect(anonymous.statusCode).toBe(401);
  });

  test('an empty batch answers an empty batch-response', async () => {
    const res = await send(batch([]));
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ resourceType: 'Bundle', type: 'batch-response' });
  });

  test('memberships written in a batch go through the same rules as single writes', async () => {
    const project = await createProject(t.app, { name: 'Rules' });
    const res = await send(
      batch([
        {
          resource: { resourceType: 'ProjectMembership', project: { reference: `Project/${project.id}` }, user: { reference: 'User/nobody' }, profile: { reference: 'Practitioner/nobody' } },
          request: { method: 'POST', url: 'ProjectMembership' },
        },
      ]),
    );
    const entry = (res.json() as Bundle).entry?.[0];
    expect(entry?.response?.status).toBe('400 Bad Request');
    expect(entry?.response?.outcome?.issue?.[0].expression).toEqual(['ProjectMembership.profile']);
    expect(await countCurrent(t.app, 'ProjectMembership', { project: project.id })).toBe(0);
    expect((entry as { resource?: ProjectMembership }).resource).toBeUndefined();
  });

  test('PATCH entries carry a JSON Patch in a Binary; GET entries take ifNoneMatch (304); Prefer applies to every entry', async () => {
    const kept = await post<Patient>(t.app, admin.headers, { resourceType: 'Patient', name: [{ family: 'Entry' }], active: true });
    const jsonPatch = (ops: unknown) => ({ resourceType: 'Binary', contentType: 'application/json-patch+json', data: Buffer.from(JSON.stringify(ops)).toString('base64') });
    const res = await send(
      batch([
        { request: { method: 'GET', url: `Patient/${kept.id}`, ifNoneMatch: 'W/"1"' } },
        { resource: jsonPatch([{ op: 'replace', path: '/active', value: false }]) as never, request: { method: 'PATCH', url: `Patient/${kept.id}`, ifMatch: 'W/"1"' } },
        { resource: jsonPatch([{ op: 'replace', path: '/id', value: 'x' }]) as never, request: { method: 'PATCH', url: `Patient/${kept.id}` } },
        { resource: { resourceType: 'Parameters' }, request: { method: 'PATCH', url: `Patient/${kept.id}` } },
        { request: { method: 'GET', url: `Patient/${kept.id}`, ifNoneMatch: 'W/"1"' } },
        { request: { method: 'GET', url: 'Patient?family=Entry&colour=blue' } },
      ]),
      { prefer: 'return=minimal, handling=lenient' },
    );
    const entries = (res.json() as Bundle).entry ?? [];
    expect(entries.map((e) => e.response?.status)).toEqual(['304 Not Modified', '200 OK', '400 Bad Request', '415 Unsupported Media Type', '200 OK', '200 OK']);
    expect(entries[0].resource).toBeUndefined();
    expect(entries[1].resource).toBeUndefined();
    expect(entries[1].response?.etag).toBe('W/"2"');
    expect(entries[2].response?.outcome?.issue?.[0].expression).toEqual(['Patient.id']);
    expect((entries[4].resource as Patient).active).toBe(false);
    const search = entries[5].resource as Bundle;
    expect(search.entry?.find((e) => e.search?.mode === 'outcome')?.resource?.resourceType).toBe('OperationOutcome');
  });
});


import type { Bundle, BundleEntry, Patient, Practitioner, ProjectMembership, User } from '@medplum/fhirtypes';
import type { ResourceChange } from '../../../src/fhir/changes';
import { snapshotDatabase } from '../../helpers/app';
import { createProject } from '../../helpers/fixtures';
import { FHIR_JSON, issues, post } from '../../helpers/fhir';
import { useSignIn, useTestApp } from '../../helpers/suite';

const transaction = (entry: BundleEntry[]): Bundle => ({ resourceType: 'Bundle', type: 'transaction', entry });

describe('transaction Bundles (POST /fhir/R4)', () => {
  const changes: ResourceChange[] = [];
  const t = useTestApp({ changeListeners: [async (change) => void changes.push(change)] });
  const admin = useSignIn(t);

  const send = (bundle: unknown, headers: Record<string, string> = {}) =>
    t.app.inject({ method: 'POST', url: '/fhir/R4', headers: { ...admin.headers, ...FHIR_JSON, ...headers }, payload: bundle as object });

  test('creates, updates, deletes and reads in one transaction, answering per entry in request order', async () => {
    const doomed = await post<Patient>(t.app, admin.headers, { resourceType: 'Patient', name: [{ family: 'Doomed' }] });
    const kept = await post<Patient>(t.app, admin.headers, { resourceType: 'Patient', name: [{ family: 'Kept' }] });
    const res = await send(
      transaction([
        { request: { method: 'GET', url: `Patient/${kept.id}` } },
        { fullUrl: 'urn:uuid:6f1c2b1e-0000-4000-8000-000000000001', resource: { resourceType: 'Practitioner', name: [{ family: 'Doc' }] }, request: { method: 'POST', url: 'Practitioner' } },
        {
          resource: { resourceType: 'Patient', name: [{ family: 'New' }], generalPractitioner: [{ reference: 'urn:uuid:6f1c2b1e-0000-4000-8000-000000000001' }] },
          request: { method: 'POST', url: 'Patient' },
        },
        { resource: { ...kept, name: [{ family: 'Kept-2' }] }, request: { method: 'PUT', url: `Patient/${kept.id}`, ifMatch: 'W/"1"' } },
        { request: { method: 'DELETE', url: `Patient/${doomed.id}` } },
      ]),
    );
    expect(res.statusCode).toBe(200);
    const body = res.json() as Bundle;
    expect(body.type).toBe('transaction-response');
    const [read, practitioner, patient, update, del] = body.entry ?? [];
    // GETs run last: the read sees the update of the same transaction.
    expect(read.response?.status).toBe('200 OK');
    expect((read.resource as Patient).name?.[0].family).toBe('Kept-2');
    expect(practitioner.response).toMatchObject({ status: '201 Created', etag: 'W/"1"' });
    const practitionerId = (practitioner.resource as Practitioner).id as string;
    expect(practitioner.response?.location).toBe(`Practitioner/${practitionerId}/_history/1`);
    expect(practitioner.fullUrl).toBe(`http://localhost:8103/fhir/R4/Practitioner/${practitionerId}`);
    expect((patient.resource as Patient).generalPractitioner).toEqual([{ reference: `Practitioner/${practitionerId}` }]);
    expect(update.response).toMatchObject({ status: '200 OK', etag: 'W/"2"' });
    expect(del.response?.status).toBe('200 OK');
    expect((await t.app.inject({ method: 'GET', url: `/fhir/R4/Patient/${doomed.id}`, headers: admin.headers })).statusCode).toBe(410);
    const stored = await t.app.inject({ method: 'GET', url: `/fhir/R4/Patient/${(patient.resource as Patient).id}`, headers: admin.headers });
    expect((stored.json() as Patient).generalPractitioner?.[0].reference).toBe(`Practitioner/${practitionerId}`);
  });

  test('all or nothing: one refused entry refuses the Bundle with its status, naming the entry, and writes nothing', async () => {
    const kept = await post<Patient>(t.app, admin.headers, { resourceType: 'Patient', name: [{ family: 'Stale' }] });
    const before = await snapshotDatabase(t.app);
    const res = await send(
      transaction([
        { resource: { resourceType: 'Patient', name: [{ family: 'Never' }] }, request: { method: 'POST', url: 'Patient' } },
        { request: { method: 'DELETE', url: `Patient/${kept.id}` } },
        { resource: { ...kept, active: true }, request: { method: 'PUT', url: `Patient/${kept.id}`, ifMatch: 'W/"7"' } },
      ]),
    );
    // The PUT and the DELETE touch the same resource: refused before anything runs.
    expect(res.statusCode).toBe(400);
    expect(issues(res)[0].expression).toEqual(['Bundle.entry[2].request.url']);

    const stale = await send(
      transaction([
        { resource: { resourceType: 'Patient', name: [{ family: 'Never' }] }, request: { method: 'POST', url: 'Patient' } },
        { resource: { ...kept, active: true }, request: { method: 'PUT', url: `Patient/${kept.id}`, ifMatch: 'W/"7"' } },
      ]),
    );
    expect(stale.statusCode).toBe(412);
    expect(issues(stale)[0].expression).toEqual(['Bundle.entry[1].request.ifMatch']);
    expect(issues(stale)[0].diagnostics).toMatch(/^Bundle\.entry\[1\] \(PUT Patient\/.*\): If-Match/);

    const invalid = await send(
      transaction([
        { resource: { resourceType: 'Patient', name: [{ family: 'Never' }] }, request: { method: 'POST', url: 'Patient' } },
        { resource: { resourceType: 'Patient', gender: 42 as never }, request: { method: 'POST', url: 'Patient' } },
      ]),
    );
    expect(invalid.statusCode).toBe(400);
    expect(issues(invalid)[0].expression?.[0]).toMatch(/^Bundle\.entry\[1\]\.resource\.gender/);
    expect(await snapshotDatabase(t.app)).toEqual(before);
  });

  test('a Practitioner and the membership naming it by urn:uuid are created together; writes are marked transaction', async () => {
    const project = await createProject(t.app, { name: 'Together' });
    const user = await post<User>(t.app, admin.headers, { resourceType: 'User', firstName: 'To', lastName: 'Gether', email: 'together@example.com', meta: { project: project.id }, project: { reference: `Project/${project.id}` } });
    changes.length = 0;
    const practitioner = 'urn:uuid:0c8c7f5e-1111-4000-8000-00000000000a';
    const res = await send(
      transaction([
        {
          resource: { resourceType: 'ProjectMembership', meta: { project: project.id }, project: { reference: `Project/${project.id}` }, user: { reference: `User/${user.id}` }, profile: { reference: practitioner } },
          request: { method: 'POST', url: 'ProjectMembership' },
        },
        { fullUrl: practitioner, resource: { resourceType: 'Practitioner', meta: { project: project.id }, name: [{ family: 'Gether' }] }, request: { method: 'POST', url: 'Practitioner' } },
      ]),
    );
    expect(res.statusCode).toBe(200);
    const [membership, created] = (res.json() as Bundle).entry ?? [];
    expect((membership.resource as ProjectMembership).profile?.reference).toBe(`Practitioner/${created.resource?.id}`);
    // The Practitioner is created first: the membership's references are checked when it is written.
    expect(changes.map((c) => `${c.type} ${c.operation}`)).toEqual(['Practitioner transaction', 'ProjectMembership transaction']);
    expect(new Set(changes.map((c) => c.session))).toEqual(new Set([changes[0].session]));
  });

  test('a urn:uuid reference to no entry, a history read, an operation and a Bundle over 100 entries are refused before anything runs', async () => {
    const project = await createProject(t.app, { name: 'No ops' });
    const before = await snapshotDatabase(t.app);
    const dangling = await send(
      transaction([{ resource: { resourceType: 'Patient', generalPractitioner: [{ reference: 'urn:uuid:7a7a7a7a-0000-4000-8000-000000000000' }] }, request: { method: 'POST', url: 'Patient' } }]),
    );
    expect(dangling.statusCode).toBe(400);
    expect(issues(dangling)[0].expression).toEqual(['Bundle.entry[0].resource']);
    const history = await send(transaction([{ request: { method: 'GET', url: 'Patient/_history' } }]));
    expect(history.statusCode).toBe(400);
    expect(issues(history)[0].expression).toEqual(['Bundle.entry[0].request.url']);
    const operation = await send(transaction([{ resource: { resourceType: 'Parameters' }, request: { method: 'POST', url: `Project/${project.id}/$invite` } }]));
    expect(operation.statusCode).toBe(400);
    const entry = { resource: { resourceType: 'Patient' }, request: { method: 'POST', url: 'Patient' } } as BundleEntry;
    const tooLarge = await send(transaction(Array.from({ length: 101 }, () => entry)));
    expect(tooLarge.statusCode).toBe(413);
    expect(issues(tooLarge)[0]).toMatchObject({ code: 'too-costly', expression: ['Bundle.entry'] });
    expect(await snapshotDatabase(t.app)).toEqual(before);
  });

  test('100 entries in one transaction', async () => {
    const entry = (i: number): BundleEntry => ({ resource: { resourceType: 'Patient', name: [{ family: `Hundred-${i}` }] }, request: { method: 'POST', url: 'Patient' } });
    const res = await send(transaction(Array.from({ length: 100 }, (_, i) => entry(i))));
    expect(res.statusCode).toBe(200);
    expect((res.json() as Bundle).entry?.every((e) => e.response?.status === '201 Created')).toBe(true);
    const search = await t.app.inject({ method: 'GET', url: '/fhir/R4/Patient?family=Hundred-&_summary=count', headers: admin.headers });
    expect((search.json() as Bundle).total).toBe(100);
  });

  test('conditional entries: DELETE runs first, ifNoneExist finds or creates, conditional PUT and DELETE by criteria', async () => {
    const system = 'http://example.org/mrn';
    const old = await post<Patient>(t.app, admin.headers, { resourceType: 'Patient', identifier: [{ system, value: 'tx-old' }] });
    const existing = await post<Patient>(t.app, admin.headers, { resourceType: 'Patient', identifier: [{ system, value: 'tx-existing' }] });
    const updated = await post<Patient>(t.app, admin.headers, { resourceType: 'Patient', identifier: [{ system, value: 'tx-update' }] });
    const gone = await post<Patient>(t.app, admin.headers, { resourceType: 'Patient', identifier: [{ system, value: 'tx-gone' }] });
    const res = await send(
      transaction([
        // Written after the DELETE below (FHIR's order): the old one no longer matches, so this creates.
        { fullUrl: 'urn:uuid:11111111-2222-4333-8444-555555555555', resource: { resourceType: 'Patient', identifier: [{ system, value: 'tx-old' }] }, request: { method: 'POST', url: 'Patient', ifNoneExist: `identifier=${system}|tx-old` } },
        { resource: { resourceType: 'Patient', identifier: [{ system, value: 'tx-existing' }] }, request: { method: 'POST', url: 'Patient', ifNoneExist: `identifier=${system}|tx-existing` } },
        { resource: { resourceType: 'Patient', identifier: [{ system, value: 'tx-update' }], active: true, link: [{ other: { reference: 'urn:uuid:11111111-2222-4333-8444-555555555555' }, type: 'seealso' }] }, request: { method: 'PUT', url: `Patient?identifier=${system}|tx-update` } },
        { request: { method: 'DELETE', url: `Patient/${old.id}` } },
        { request: { method: 'DELETE', url: `Patient?identifier=${system}|tx-gone` } },
        { request: { method: 'GET', url: `Patient?identifier=${system}|tx-old` } },
      ]),
    );
    expect(res.statusCode).toBe(200);
    const [created, found, put, , conditionalDelete, search] = (res.json() as Bundle).entry ?? [];
    expect(created.response?.status).toBe('201 Created');
    const newId = created.resource?.id as string;
    expect(newId).not.toBe(old.id);
    expect(found.response?.status).toBe('200 OK');
    expect(found.resource?.id).toBe(existing.id);
    expect(put.response).toMatchObject({ status: '200 OK', etag: 'W/"2"' });
    expect((put.resource as Patient).id).toBe(updated.id);
    expect((put.resource as Patient).link?.[0].other?.reference).toBe(`Patient/${newId}`);
    expect(conditionalDelete.response?.outcome?.issue?.[0].details?.text).toBe(`Deleted Patient/${gone.id}`);
    expect((search.resource as Bundle).entry?.map((e) => e.resource?.id)).toEqual([newId]);

    const twice = await send(
      transaction([
        { resource: { resourceType: 'Patient' }, request: { method: 'POST', url: 'Patient', ifNoneExist: `identifier=${system}|tx-twice` } },
        { resource: { resourceType: 'Patient' }, request: { method: 'POST', url: 'Patient', ifNoneExist: `identifier=${system}|tx-twice` } },
      ]),
    );
    expect(twice.statusCode).toBe(400);
    expect(issues(twice)[0].expression).toEqual(['Bundle.entry[1].request.ifNoneExist']);
  });

  test('Prefer: return=minimal leaves the resources out of the entries; return=OperationOutcome puts an outcome in each', async () => {
    const entry = { resource: { resourceType: 'Patient', name: [{ family: 'Preferred' }] }, request: { method: 'POST', url: 'Patient' } } as BundleEntry;
    const minimal = await send(transaction([entry]), { prefer: 'return=minimal' });
    const [created] = (minimal.json() as Bundle).entry ?? [];
    expect(created.resource).toBeUndefined();
    expect(created.response).toMatchObject({ status: '201 Created', etag: 'W/"1"' });
    expect(created.response?.location).toMatch(/^Patient\/[0-9a-f-]{36}\/_history\/1$/);
    const outcome = await send(transaction([entry]), { prefer: 'return=OperationOutcome' });
    const [withOutcome] = (outcome.json() as Bundle).entry ?? [];
    expect(withOutcome.resource).toBeUndefined();
    expect(withOutcome.response?.outcome?.issue?.[0]).toMatchObject({ severity: 'information' });
  });

  test('transactions, batches and single writes on the same resource and criteria at once: none waits for another forever, one resource per criteria', async () => {
    const system = 'http://example.org/mrn';
    const shared = await post<Patient>(t.app, admin.headers, { resourceType: 'Patient', active: true });
    const conditional: BundleEntry = { resource: { resourceType: 'Patient', identifier: [{ system, value: 'together' }] }, request: { method: 'POST', url: 'Patient', ifNoneExist: `identifier=${system}|together` } };
    const put = (family: string): BundleEntry => ({ resource: { ...shared, name: [{ family }] }, request: { method: 'PUT', url: `Patient/${shared.id}` } });
    const single = (family: string) => t.app.inject({ method: 'PUT', url: `/fhir/R4/Patient/${shared.id}`, headers: { ...admin.headers, ...FHIR_JSON }, payload: { ...shared, name: [{ family }] } });
    const singleConditional = () =>
      t.app.inject({ method: 'POST', url: '/fhir/R4/Patient', headers: { ...admin.headers, ...FHIR_JSON, 'if-none-exist': `identifier=${system}|together` }, payload: conditional.resource as object });
    const answers = await Promise.all([
      send(transaction([put('T1'), conditional])),
      single('S1'),
      singleConditional(),
      send({ resourceType: 'Bundle', type: 'batch', entry: [put('B1'), conditional] }),
      send(transaction([conditional, put('T2')])),
      singleConditional(),
      single('S2'),
    ]);
    expect(answers.map((a) => a.statusCode)).toEqual([200, 200, expect.any(Number), 200, 200, expect.any(Number), 200]);
    expect([answers[2].statusCode, answers[5].statusCode].every((s) => s === 200 || s === 201)).toBe(true);
    const found = await t.app.inject({ method: 'GET', url: `/fhir/R4/Patient?identifier=${system}|together&_summary=count`, headers: admin.headers });
    expect((found.json() as Bundle).total).toBe(1);
    const current = await t.app.inject({ method: 'GET', url: `/fhir/R4/Patient/${shared.id}`, headers: admin.headers });
    // Two transactions, one batch entry and two single updates: six versions in all.
    expect(current.headers.etag).toBe('W/"6"');
  });
});


import type { AccessPolicy, Bundle, BundleEntry, Patient } from '@medplum/fhirtypes';
import { snapshotDatabase } from '../../helpers/app';
import { make, makeProject, signedInMember, type Member } from '../../helpers/access';
import { createProjectAdmin, FHIR_JSON, issues, type ProjectAdmin } from '../../helpers/fhir';
import { uniqueEmail } from '../../helpers/fixtures';
import { toParameters } from '../../helpers/invite';
import { useTestApp } from '../../helpers/suite';

const bundle = (type: 'batch' | 'transaction', entry: BundleEntry[]): Bundle => ({ resourceType: 'Bundle', type, entry });

/** Access policies apply to each entry of a batch or transaction as they do to single requests. */
describe('Bundles and access policies', () => {
  const t = useTestApp();
  let p1: string;
  let p2: string;
  let alice: Patient & { id: string };
  let carol: Patient & { id: string };
  let reader: Member;
  let editor: Member;
  let editorPolicy: AccessPolicy & { id: string };
  let manager: ProjectAdmin;

  beforeAll(async () => {
    p1 = await makeProject(t.app, 'One');
    p2 = await makeProject(t.app, 'Two');
    alice = await make<Patient>(t.app, { resourceType: 'Patient', name: [{ family: 'Liddell' }] }, p1);
    carol = await make<Patient>(t.app, { resourceType: 'Patient', name: [{ family: 'Elsewhere' }] }, p2);
    const doctor = (await make(t.app, { resourceType: 'Practitioner', name: [{ family: 'House' }] }, p1)).id;
    reader = await signedInMember(t.app, p1, { key: 'bundle-reader', profile: `Practitioner/${doctor}`, policy: [{ resourceType: 'Patient', readonly: true }] });
    // A project administrator whose own membership applies a policy (administrators manage policies).
    editor = await signedInMember(t.app, p1, { key: 'bundle-editor', profile: `Practitioner/${doctor}`, admin: true, policy: [{ resourceType: 'Patient' }] });
    const policies = await t.app.inject({ method: 'GET', url: '/fhir/R4/AccessPolicy?name=bundle-editor', headers: editor.session.headers });
    editorPolicy = (policies.json() as Bundle).entry?.[0].resource as AccessPolicy & { id: string };
    manager = await createProjectAdmin(t.app, 'Managed', uniqueEmail('manager'));
  });

  const send = (who: { session: { headers: Record<string, string> } }, body: Bundle) =>
    t.app.inject({ method: 'POST', url: '/fhir/R4', headers: { ...who.session.headers, ...FHIR_JSON }, payload: body });

  test('a read-only member: reads pass, each write is 403, another project is 404, and nothing is written', async () => {
    const before = await snapshotDatabase(t.app);
    const res = await send(
      reader,
      bundle('batch', [
        { request: { method: 'GET', url: `Patient/${alice.id}` } },
        { resource: { resourceType: 'Patient', name: [{ family: 'New' }] }, request: { method: 'POST', url: 'Patient' } },
        { resource: { ...alice, active: false }, request: { method: 'PUT', url: `Patient/${alice.id}` } },
        { request: { method: 'DELETE', url: `Patient/${alice.id}` } },
        { request: { method: 'GET', url: `Patient/${carol.id}` } },
        { request: { method: 'GET', url: 'Patient' } },
        { request: { method: 'GET', url: 'Practitioner' } },
      ]),
    );
    const entries = (res.json() as Bundle).entry ?? [];
    expect(entries.map((e) => e.response?.status)).toEqual(['200 OK', '403 Forbidden', '403 Forbidden', '403 Forbidden', '404 Not Found', '200 OK', '403 Forbidden']);
    expect(entries[1].response?.outcome?.issue?.[0].diagnostics).toBe('You may not create Patient resources');
    expect((entries[5].resource as Bundle).entry?.map((e) => e.resource?.id)).toEqual([alice.id]);
    expect(await snapshotDatabase(t.app)).toEqual(before);

    const tx = await send(
      reader,
      bundle('transaction', [
        { request: { method: 'GET', url: `Patient/${alice.id}` } },
        { resource: { resourceType: 'Patient', name: [{ family: 'New' }] }, request: { method: 'POST', url: 'Patient' } },
      ]),
    );
    expect(tx.statusCode).toBe(403);
    expect(issues(tx)[0].expression).toEqual(['Bundle.entry[1]']);
    const other = await send(reader, bundle('transaction', [{ request: { method: 'GET', url: `Patient/${carol.id}` } }]));
    expect(other.statusCode).toBe(404);
    expect(await snapshotDatabase(t.app)).toEqual(before);
  });

  test('a project administrator invites into their project in a batch, not into another; a transaction refuses operations', async () => {
    const invite = (projectId: string): BundleEntry => ({
      resource: toParameters({ resourceType: 'Practitioner', firstName: 'Ann', lastName: 'Other', email: uniqueEmail(), sendEmail: false }),
      request: { method: 'POST', url: `Project/${projectId}/$invite` },
    });
    const res = await send(manager, bundle('batch', [invite(manager.projectId), invite(p1)]));
    const entries = (res.json() as Bundle).entry ?? [];
    expect(entries.map((e) => e.response?.status)).toEqual(['201 Created', '403 Forbidden']);
    expect(entries[1].response?.outcome?.resourceType).toBe('OperationOutcome');

    const before = await snapshotDatabase(t.app);
    const tx = await send(manager, bundle('transaction', [{ resource: { resourceType: 'Patient' }, request: { method: 'POST', url: 'Patient' } }, invite(manager.projectId)]));
    expect(tx.statusCode).toBe(400);
    expect(issues(tx)[0]).toMatchObject({ expression: ['Bundle.entry[1].request.url'] });
    expect(issues(tx)[0].diagnostics).toMatch(/an operation, which commits its own transaction: it cannot be part of a transaction; send it in a batch/);
    expect(await snapshotDatabase(t.app)).toEqual(before);
  });

  test('a batch entry runs with the access the earlier entries left; a transaction with the access it started with', async () => {
    const narrowed = { ...editorPolicy, resource: [{ resourceType: 'Patient', readonly: true }] };
    const entries = (policy: AccessPolicy): BundleEntry[] => [
      { resource: policy, request: { method: 'PUT', url: `AccessPolicy/${editorPolicy.id}` } },
      { resource: { resourceType: 'Patient', name: [{ family: 'After' }] }, request: { method: 'POST', url: 'Patient' } },
    ];
    // In a transaction, the POST is checked against the policy as it was when the Bundle came.
    const tx = await send(editor, bundle('transaction', entries(narrowed)));
    expect(tx.statusCode).toBe(200);
    expect((tx.json() as Bundle).entry?.map((e) => e.response?.status)).toEqual(['200 OK', '201 Created']);
    // Now the policy is read-only: the next single create is refused, and so is a batch's.
    const single = await t.app.inject({ method: 'POST', url: '/fhir/R4/Patient', headers: { ...editor.session.headers, ...FHIR_JSON }, payload: { resourceType: 'Patient' } });
    expect(single.statusCode).toBe(403);
    const widened = { ...narrowed, meta: undefined, resource: [{ resourceType: 'Patient' }] };
    const restored = await send(editor, bundle('batch', entries(widened)));
    expect((restored.json() as Bundle).entry?.map((e) => e.response?.status)).toEqual(['200 OK', '201 Created']);
    const narrowedAgain = await send(editor, bundle('batch', entries({ ...narrowed, meta: undefined })));
    expect((narrowedAgain.json() as Bundle).entry?.map((e) => e.response?.status)).toEqual(['200 OK', '403 Forbidden']);
  });
});

import type { CapabilityStatement, OperationOutcome, Parameters, Patient } from '@medplum/fhirtypes';
import type { SignedIn } from '../../helpers/auth';
import { snapshotDatabase } from '../../helpers/app';
import { createPolicyMember, createProjectAdmin, FHIR_JSON, issues, post } from '../../helpers/fhir';
import { repoOf, uniqueEmail } from '../../helpers/fixtures';
import { createResource } from '../../../src/fhir/repository';
import { useSignIn, useTestApp } from '../../helpers/suite';

const ALL_OK: OperationOutcome = { resourceType: 'OperationOutcome', issue: [{ severity: 'information', code: 'informational', details: { text: 'All OK' }, diagnostics: 'All OK' }] };

function parameters(resource: unknown, mode?: string, profile?: string): Parameters {
  return {
    resourceType: 'Parameters',
    parameter: [
      ...(resource ? [{ name: 'resource', resource: resource as Patient }] : []),
      ...(mode ? [{ name: 'mode', valueCode: mode }] : []),
      ...(profile ? [{ name: 'profile', valueUri: profile }] : []),
    ],
  };
}

describe('$validate', () => {
  const t = useTestApp();
  const admin = useSignIn(t);
  let patient: Patient & { id: string };
  let projectId: string;
  let reader: SignedIn;

  beforeAll(async () => {
    projectId = admin.project?.reference?.split('/')[1] as string;
    patient = await post<Patient>(t.app, admin.headers, { resourceType: 'Patient', name: [{ family: 'Valid' }], gender: 'male' });
    // A member who may read Patients but not write them, and may not see or change birthDate.
    reader = await createPolicyMember(t.app, projectId, uniqueEmail('reader'), {
      resourceType: 'AccessPolicy',
      name: 'Readers',
      resource: [{ resourceType: 'Patient', interaction: ['read', 'search', 'vread', 'history'] }],
    });
  });

  const validate = (url: string, payload: unknown, headers: Record<string, string> = admin.headers) =>
    t.app.inject({ method: 'POST', url: `/fhir/R4/${url}`, headers: { ...headers, ...FHIR_JSON }, payload: payload as object });

  test('a valid resource as the body answers 200 "All OK", and nothing is written', async () => {
    const before = await snapshotDatabase(t.app);
    const res = await validate('Patient/$validate', { resourceType: 'Patient', name: [{ family: 'Fine' }], gender: 'female' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/fhir\+json/);
    expect(res.json()).toEqual(ALL_OK);
    expect(await snapshotDatabase(t.app)).toEqual(before);
  });

  test('an invalid resource answers 200 with every problem, each at its element', async () => {
    const before = await snapshotDatabase(t.app);
    const res = await validate('Patient/$validate', { resourceType: 'Patient', gender: 'bogus', telecom: [{ system: 'pager2', value: '1' }], name: [{ family: '' }], unknownField: true });
    expect(res.statusCode).toBe(200);
    const outcome = res.json() as OperationOutcome;
    expect(outcome.issue?.every((i) => i.severity === 'error')).toBe(true);
    expect(outcome.issue?.map((i) => i.expression?.[0]).sort()).toEqual(['Patient.gender', 'Patient.name[0].family', 'Patient.telecom[0].system', 'Patient.unknownField']);
    expect(await snapshotDatabase(t.app)).toEqual(before);
  });

  test('the Parameters form with mode=create checks the caller may create it', async () => {
    const resource = { resourceType: 'Patient', name: [{ family: 'Created' }] };
    expect((await validate('Patient/$validate', parameters(resource, 'create'))).json()).toEqual(ALL_OK);
    const refused = (await validate('Patient/$validate', parameters(resource, 'create'), reader.headers)).json() as OperationOutcome;
    expect(refused.issue?.[0]).toMatchObject({ severity: 'error', code: 'forbidden', diagnostics: 'You may not create Patient resources' });
    // Without a mode, only the content is checked: the reader may ask.
    expect((await validate('Patient/$validate', parameters(resource), reader.headers)).json()).toEqual(ALL_OK);
  });

  test('mode=create checks the references of a membership as a create would', async () => {
    const membership = {
      resourceType: 'ProjectMembership',
      project: { reference: `Project/${projectId}` },
      user: { reference: 'User/does-not-exist' },
      profile: { reference: `Patient/${patient.id}` },
    };
    const outcome = (await validate('ProjectMembership/$validate', parameters(membership, 'create'))).json() as OperationOutcome;
    expect(outcome.issue?.[0]).toMatchObject({ severity: 'error', expression: ['ProjectMembership.user'] });
  });

  test('instance level: mode=update checks the stored resource, the id and the caller', async () => {
    expect((await validate(`Patient/${patient.id}/$validate`, parameters({ ...patient, name: [{ family: 'Renamed' }] }, 'update'))).json()).toEqual(ALL_OK);
    const wrongId = (await validate(`Patient/${patient.id}/$validate`, parameters({ ...patient, id: 'another-id' }, 'update'))).json() as OperationOutcome;
    expect(wrongId.issue?.[0]).toMatchObject({ severity: 'error', expression: ['Patient.id'] });
    const reading = (await validate(`Patient/${patient.id}/$validate`, parameters(patient, 'update'), reader.headers)).json() as OperationOutcome;
    expect(reading.issue?.[0]).toMatchObject({ code: 'forbidden' });
    // The percent-encoded form reaches the same operation.
    expect((await validate(`Patient/${patient.id}/%24validate`, parameters(patient, 'update'))).json()).toEqual(ALL_OK);
  });

  test('instance level: mode=delete needs no resource and checks the caller may delete', async () => {
    expect((await validate(`Patient/${patient.id}/$validate`, parameters(undefined, 'delete'))).json()).toEqual(ALL_OK);
    const refused = (await validate(`Patient/${patient.id}/$validate`, parameters(undefined, 'delete'), reader.headers)).json() as OperationOutcome;
    expect(refused.issue?.[0]).toMatchObject({ code: 'forbidden', diagnostics: 'You may not delete Patient resources' });
    const read = await t.app.inject({ method: 'GET', url: `/fhir/R4/Patient/${patient.id}`, headers: admin.headers });
    expect(read.statusCode).toBe(200);
  });

  test('an instance the caller cannot see is 404, as a read would be', async () => {
    const other = await createProjectAdmin(t.app, 'Elsewhere', uniqueEmail('elsewhere'));
    const theirs = await post<Patient>(t.app, other.session.headers, { resourceType: 'Patient', name: [{ family: 'Theirs' }] });
    for (const mode of ['update', 'delete']) {
      const res = await validate(`Patient/${theirs.id}/$validate`, parameters(mode === 'delete' ? undefined : theirs, mode), reader.headers);
      expect({ mode, status: res.statusCode }).toEqual({ mode, status: 404 });
    }
    expect((await validate('Patient/nobody-here/$validate', parameters(undefined, 'delete'))).statusCode).toBe(404);
  });

  test('profile: the base definition is accepted; an unknown profile or one of another type is 400', async () => {
    expect((await validate('Patient/$validate', parameters({ resourceType: 'Patient' }, undefined, 'http://hl7.org/fhir/StructureDefinition/Patient'))).json()).toEqual(ALL_OK);
    expect((await validate('Patient/$validate', parameters({ resourceType: 'Patient' }, 'profile', 'http://hl7.org/fhir/StructureDefinition/Patient'))).json()).toEqual(ALL_OK);
    expect((await validate('Project/$validate', parameters({ resourceType: 'Project', name: 'P' }, undefined, 'https://medplum.com/fhir/StructureDefinition/Project'))).json()).toEqual(ALL_OK);
    for (const profile of ['http://example.org/StructureDefinition/nope', 'http://hl7.org/fhir/StructureDefinition/Practitioner']) {
      const res = await validate('Patient/$validate', parameters({ resourceType: 'Patient' }, undefined, profile));
      expect(res.statusCode).toBe(400);
      expect(issues(res)[0].expression).toEqual(['profile']);
    }
  });

  test('malformed requests are 400 naming the parameter', async () => {
    const cases: [string, unknown, string][] = [
      ['Patient/$validate', parameters({ resourceType: 'Patient' }, 'update'), 'mode'],
      ['Patient/$validate', parameters({ resourceType: 'Patient' }, 'delete'), 'mode'],
      ['Patient/$validate', parameters({ resourceType: 'Patient' }, 'bogus'), 'mode'],
      ['Patient/$validate', parameters({ resourceType: 'Patient' }, 'profile'), 'profile'],
      ['Patient/$validate', parameters(undefined, 'create'), 'resource'],
      ['Patient/$validate', { resourceType: 'Practitioner' }, 'resourceType'],
      ['Patient/$validate', { resourceType: 'Parameters', parameter: [{ name: 'nonsense', valueString: 'x' }] }, 'nonsense'],
    ];
    for (const [url, body, expression] of cases) {
      const res = await validate(url, body);
      expect({ body, status: res.statusCode }).toEqual({ body, status: 400 });
      expect(issues(res)[0].expression).toEqual([expression]);
    }
  });

  test('a field hidden from the caller is never reported on, even when its stored value is invalid', async () => {
    // A value stored before strict validation (written here without validation).
    const legacy = await createResource(repoOf(t.app), { resourceType: 'Patient', name: [{ family: 'Legacy' }], gender: 'legacy-code' } as unknown as Patient, { project: projectId, skipValidation: true });
    const editor = await createPolicyMember(t.app, projectId, uniqueEmail('editor'), {
      resourceType: 'AccessPolicy',
      name: 'Editors without gender',
      resource: [{ resourceType: 'Patient', hiddenFields: ['gender'] }],
    });
    const res = await validate(`Patient/${legacy.id}/$validate`, parameters({ resourceType: 'Patient', id: legacy.id, name: [{ family: 'Renamed' }] }, 'update'), editor.headers);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual(ALL_OK);
    expect(res.body).not.toContain('legacy-code');
    // The administrator, who sees the field, is told.
    const told = (await validate(`Patient/${legacy.id}/$validate`, parameters({ ...legacy, name: [{ family: 'Renamed' }] }, 'update'))).json() as OperationOutcome;
    expect(told.issue?.[0]).toMatchObject({ code: 'code-invalid', expression: ['Patient.gender'] });
  });

  test('it needs a signed-in caller', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/fhir/R4/Patient/$validate', headers: FHIR_JSON, payload: { resourceType: 'Patient' } });
    expect(res.statusCode).toBe(401);
  });

  test('it is published: OperationDefinition and every stored type a caller may write in the CapabilityStatement', async () => {
    const definition = await t.app.inject({ method: 'GET', url: '/fhir/R4/OperationDefinition/Resource-validate' });
    expect(definition.statusCode).toBe(200);
    expect(definition.json()).toMatchObject({ code: 'validate', type: true, instance: true, system: false, affectsState: false });
    const cs = (await t.app.inject({ method: 'GET', url: '/fhir/R4/metadata' })).json() as CapabilityStatement;
    const writable = (cs.rest?.[0].resource ?? []).filter((r) => r.interaction?.some((i) => i.code === 'create'));
    expect(writable.length).toBeGreaterThan(5);
    for (const resource of writable) {
      expect(resource.operation).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'validate', definition: 'https://fhir-invite-server.example/fhir/OperationDefinition/Resource-validate' })]));
    }
  });

  test('a type only the server writes (AuditEvent) has no $validate: there is no write of it to check', async () => {
    const cs = (await t.app.inject({ method: 'GET', url: '/fhir/R4/metadata' })).json() as CapabilityStatement;
    const audit = cs.rest?.[0].resource?.find((r) => r.type === 'AuditEvent');
    expect(audit?.interaction?.map((i) => i.code)).toEqual(['read', 'search-type']);
    expect(audit?.operation).toBeUndefined();
    const res = await t.app.inject({ method: 'POST', url: '/fhir/R4/AuditEvent/$validate', headers: { ...admin.headers, ...FHIR_JSON }, payload: { resourceType: 'AuditEvent' } });
    expect(res.statusCode).toBe(404);
  });
});

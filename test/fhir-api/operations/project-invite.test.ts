import { OperationOutcomeError, type MedplumClient } from '@medplum/core';
import type { CapabilityStatement, OperationDefinition, ProjectMembership } from '@medplum/fhirtypes';
import { allowPlainPkceFallback, listen, newMedplumClient, signInClient } from '../../helpers/medplum';
import { useSignIn, useTestApp } from '../../helpers/suite';
import { createPatient, createPolicy, createProject, uniqueEmail } from '../../helpers/invite';
import { outputs, postInvite, toParameters } from '../../helpers/invite';

/** An answer with everything that differs between two equivalent invites blanked out. */
function comparable(value: unknown, replacements: [string, string][]): unknown {
  let text = JSON.stringify(value);
  for (const [from, to] of replacements) {
    text = text.split(from).join(to);
  }
  return JSON.parse(text.replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, 'ID').replace(/"(lastUpdated|valueDateTime)":"[^"]+"/g, '"$1":"T"').replace(/setpassword\/[\w-]+\/[\w-]+/g, 'setpassword/ID/SECRET'));
}

describe('invite: the two forms, the published definition and the Medplum client', () => {
  const t = useTestApp();
  const admin = useSignIn(t);

  test('the Parameters form and the plain-JSON form give the same result', async () => {
    const [a, b] = [await createProject(t.app, { name: 'Same' }), await createProject(t.app, { name: 'Same' })];
    const body = (projectId: string, policyId: string, patientId: string, email: string): Record<string, unknown> => ({
      resourceType: 'RelatedPerson',
      firstName: 'Rosalind',
      lastName: 'Franklin',
      email,
      patient: { reference: `Patient/${patientId}` },
      mfaRequired: true,
      sendEmail: false,
      membership: {
        admin: true,
        externalId: `ext-${projectId}`,
        access: [{ policy: { reference: `AccessPolicy/${policyId}` }, parameter: [{ name: 'team', valueString: 'north' }] }],
      },
    });
    const [policyA, policyB] = [await createPolicy(t.app, a.id), await createPolicy(t.app, b.id)];
    const [patientA, patientB] = [await createPatient(t.app, a.id), await createPatient(t.app, b.id)];
    const [emailA, emailB] = [uniqueEmail(), uniqueEmail()];
    const json = await postInvite(t.app, admin.headers, a.id, body(a.id, policyA.id, patientA.id, emailA));
    const params = await t.app.inject({
      method: 'POST',
      url: `/fhir/R4/Project/${b.id}/$invite`,
      headers: { ...admin.headers, 'content-type': 'application/fhir+json' },
      payload: toParameters(body(b.id, policyB.id, patientB.id, emailB)),
    });
    expect([json.statusCode, params.statusCode]).toEqual([201, 201]);
    const fromJson = comparable(json.json(), [[emailA, 'EMAIL'], [a.id, 'P']]);
    const fromParams = comparable(params.json(), [[emailB, 'EMAIL'], [b.id, 'P']]);
    expect(fromParams).toEqual(fromJson);
    expect(outputs(json).activationUrl).toBeDefined();
    expect(outputs(json).membership).toMatchObject({ admin: true, externalId: `ext-${a.id}` });
  });

  test('the OperationDefinition is published and listed in the CapabilityStatement', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/fhir/R4/OperationDefinition/Project-invite' });
    expect(res.statusCode).toBe(200);
    const definition = res.json() as OperationDefinition;
    expect(definition).toMatchObject({ id: 'Project-invite', code: 'invite', resource: ['Project'], instance: true, system: false, type: false });
    const metadata = (await t.app.inject({ method: 'GET', url: '/fhir/R4/metadata' })).json() as CapabilityStatement;
    const project = metadata.rest?.[0].resource?.find((r) => r.type === 'Project');
    expect(project?.operation).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'invite', definition: definition.url })]));
  });

  test('a percent-encoded $ reaches the operation too; an unknown operation is a 404', async () => {
    const project = await createProject(t.app);
    const body = { resourceType: 'Practitioner', firstName: 'Enc', lastName: 'Oded', email: uniqueEmail(), sendEmail: false };
    const encoded = await t.app.inject({ method: 'POST', url: `/fhir/R4/Project/${project.id}/%24invite`, headers: admin.headers, payload: body });
    expect(encoded.statusCode).toBe(201);
    expect(outputs(encoded).membership.project.reference).toBe(`Project/${project.id}`);
    const unknown = await t.app.inject({ method: 'POST', url: `/fhir/R4/Project/${project.id}/%24explode`, headers: admin.headers, payload: body });
    expect(unknown.statusCode).toBe(404);
  });

  test('the OpenAPI document describes both endpoints', async () => {
    const doc = (await t.app.inject({ method: 'GET', url: '/docs/json' })).json() as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/fhir/R4/Project/{id}/$invite', '/admin/projects/{id}/invite']));
  });

  describe('MedplumClient.invite, unchanged, against a listening server', () => {
    let baseUrl: string;
    beforeAll(async () => {
      baseUrl = await listen(t.app);
    });
    allowPlainPkceFallback();

    async function client(): Promise<MedplumClient> {
      const medplum = newMedplumClient(baseUrl);
      await signInClient(medplum);
      return medplum;
    }

    test('invites and answers the ProjectMembership; a second time is an OperationOutcomeError 409', async () => {
      const medplum = await client();
      const project = await createProject(t.app, { name: 'Client' });
      const email = uniqueEmail();
      const membership = (await medplum.invite(project.id, { resourceType: 'Practitioner', firstName: 'Katherine', lastName: 'Johnson', email, sendEmail: false })) as ProjectMembership;
      expect(membership).toMatchObject({ resourceType: 'ProjectMembership', project: { reference: `Project/${project.id}` }, user: { display: email } });
      expect(membership.profile?.reference).toMatch(/^Practitioner\//);

      const again = medplum.invite(project.id, { resourceType: 'Practitioner', firstName: 'Katherine', lastName: 'Johnson', email, sendEmail: false });
      await expect(again).rejects.toBeInstanceOf(OperationOutcomeError);
      await expect(again).rejects.toThrow(/already a member/);

      const upserted = (await medplum.invite(project.id, { resourceType: 'Practitioner', firstName: 'Katherine', lastName: 'Johnson', email, sendEmail: false, upsert: true, membership: { admin: true } })) as ProjectMembership;
      expect(upserted).toMatchObject({ id: membership.id, admin: true });
    });
  });
});

import type { MedplumClient } from '@medplum/core';
import type { Patient } from '@medplum/fhirtypes';
import { allowPlainPkceFallback, listen, newMedplumClient, signInClient } from '../helpers/medplum';
import { useTestApp } from '../helpers/suite';

/** The real client library on the FHIR routes (create, read, search, update, history, delete). */
describe('MedplumClient on the FHIR API', () => {
  const t = useTestApp();
  let medplum: MedplumClient;

  allowPlainPkceFallback();
  beforeAll(async () => {
    medplum = newMedplumClient(await listen(t.app));
    await signInClient(medplum);
  });

  test('create, read, search, update, history and delete', async () => {
    const created = await medplum.createResource<Patient>({ resourceType: 'Patient', name: [{ family: 'Clientfamily', given: ['Ada'] }], birthDate: '1815-12-10' });
    expect(created.id).toBeDefined();
    expect(created.meta?.versionId).toBe('1');

    const read = await medplum.readResource('Patient', created.id as string);
    expect(read).toEqual(created);

    const found = await medplum.searchResources('Patient', { name: 'clientfam', birthdate: 'lt1900' });
    expect(found.map((p) => p.id)).toEqual([created.id]);
    const one = await medplum.searchOne('Patient', `name:exact=Clientfamily`);
    expect(one?.id).toBe(created.id);
    const bundle = await medplum.search('Patient', { _total: 'accurate', family: 'clientfamily' });
    expect(bundle.total).toBe(1);

    const updated = await medplum.updateResource<Patient>({ ...read, gender: 'female' });
    expect(updated.meta?.versionId).toBe('2');
    expect((await medplum.readResource('Patient', created.id as string)).gender).toBe('female');

    const history = await medplum.readHistory('Patient', created.id as string);
    expect(history.entry?.map((e) => e.resource?.meta?.versionId)).toEqual(['2', '1']);
    expect((await medplum.readVersion('Patient', created.id as string, '1')).gender).toBeUndefined();

    await medplum.deleteResource('Patient', created.id as string);
    await expect(medplum.readResource('Patient', created.id as string)).rejects.toThrow();
  });

  test('errors surface as OperationOutcomes the client reports', async () => {
    await expect(medplum.searchResources('Patient', { nickname: 'x' })).rejects.toThrow(/nickname/);
  });
});

import { isDataTypeLoaded } from '@medplum/core';
import type { Patient } from '@medplum/fhirtypes';
import { findProfilesDir, loadDefinitions } from '../../src/fhir/definitions';
import { deferredTypeCount, isResourceTypeName } from '../../src/fhir/type-index';
import { FHIR_JSON, issues } from '../helpers/fhir';
import { useSignIn, useTestApp } from '../helpers/suite';

// The resource types nobody stores are indexed after start (see src/fhir/type-index.ts); these
// tests run in order, on one app that is not listening until the last.
describe('resource types indexed after start, or at once when needed', () => {
  const t = useTestApp();
  const admin = useSignIn(t);
  const create = (body: unknown) => t.app.inject({ method: 'POST', url: '/fhir/R4/Patient', headers: { ...admin.headers, ...FHIR_JSON }, payload: body as string });

  test('after start, the stored types are indexed and the others wait', () => {
    expect(isDataTypeLoaded('Patient')).toBe(true);
    expect(isDataTypeLoaded('Parameters')).toBe(true);
    expect(isDataTypeLoaded('Organization')).toBe(false);
    expect(deferredTypeCount()).toBeGreaterThan(100);
  });

  test('a Patient without nested resources is validated without indexing them', async () => {
    const res = await create({ resourceType: 'Patient', name: [{ family: 'Plain' }], birthDate: 'not-a-date' });
    expect(res.statusCode).toBe(400);
    expect(issues(res)[0].expression).toEqual(['Patient.birthDate']);
    expect(isDataTypeLoaded('Organization')).toBe(false);
  });

  test('a contained resource of a waiting type is validated against its own definition', async () => {
    const bad = await create({ resourceType: 'Patient', contained: [{ resourceType: 'Organization', id: 'org', name: 'Clinic', notAnElement: true }], managingOrganization: { reference: '#org' } });
    expect(bad.statusCode).toBe(400);
    expect(issues(bad).map((i) => i.expression?.[0]).join(' ')).toMatch(/contained.*notAnElement|notAnElement/);
    expect(isDataTypeLoaded('Organization')).toBe(true);
    expect(deferredTypeCount()).toBe(0);

    const good = await create({ resourceType: 'Patient', contained: [{ resourceType: 'Organization', id: 'org', name: 'Clinic' }], managingOrganization: { reference: '#org' } });
    expect(good.statusCode).toBe(201);
    expect((good.json() as Patient).contained?.[0]).toMatchObject({ resourceType: 'Organization', name: 'Clinic' });
  });

  test('isResourceTypeName answers for every resource type, indexed yet or not', () => {
    expect(isResourceTypeName('Organization')).toBe(true);
    expect(isResourceTypeName('Patient')).toBe(true);
    expect(isResourceTypeName('HumanName')).toBe(false);
    expect(isResourceTypeName('NotAType')).toBe(false);
  });
});

describe('asking whether a waiting type is a resource type indexes the waiting types', () => {
  const t = useTestApp();

  test('isResourceTypeName on a waiting type', () => {
    // (Encounter may be indexed already, by the suite above: the index is process-wide.)
    expect(t.app.ctx).toBeDefined();
    const waiting = deferredTypeCount();
    expect(waiting).toBeGreaterThan(100);
    // Loading the definitions again (every buildApp does) defers each type once, not twice.
    loadDefinitions(findProfilesDir());
    expect(deferredTypeCount()).toBe(waiting);
    expect(isResourceTypeName('Encounter')).toBe(true);
    expect(isDataTypeLoaded('Encounter')).toBe(true);
    expect(deferredTypeCount()).toBe(0);
  });
});

describe('a listening server indexes the waiting types at once', () => {
  const t = useTestApp();

  test('once the server listens, the waiting types are indexed a batch per turn of the event loop, and requests are answered between batches', async () => {
    const waiting = deferredTypeCount();
    expect(waiting).toBeGreaterThan(100);
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    const address = t.app.server.address() as { port: number };
    const counts: number[] = [];
    let answeredWhileIndexing = false;
    for (let turn = 0; turn < 1000 && deferredTypeCount() > 0; turn++) {
      await new Promise((resolve) => setImmediate(resolve));
      counts.push(deferredTypeCount());
      if (turn === 1) {
        const res = await fetch(`http://127.0.0.1:${address.port}/healthcheck`);
        answeredWhileIndexing = res.status === 200 && deferredTypeCount() > 0;
      }
    }
    expect(deferredTypeCount()).toBe(0);
    expect(isDataTypeLoaded('Organization')).toBe(true);
    // Several batches, each smaller than the whole: the event loop turned between them.
    expect(counts.filter((c) => c > 0 && c < waiting).length).toBeGreaterThan(3);
    expect(answeredWhileIndexing).toBe(true);
  });
});

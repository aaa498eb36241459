import type { CapabilityStatement, OperationDefinition } from '@medplum/fhirtypes';
import { buildCapabilityStatement } from '../../src/fhir-api/capability';
import { STORED_TYPES } from '../../src/fhir/resource-types';
import { useTestApp } from '../helpers/suite';

describe('metadata', () => {
  const t = useTestApp();

  test('GET /metadata is public and lists every stored type with its interactions and search parameters', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/fhir/R4/metadata' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/fhir\+json/);
    const cs = res.json() as CapabilityStatement;
    expect(cs).toMatchObject({ resourceType: 'CapabilityStatement', fhirVersion: '4.0.1', kind: 'instance', status: 'active' });
    const resources = cs.rest?.[0].resource ?? [];
    expect(resources.map((r) => r.type).sort()).toEqual([...STORED_TYPES].sort());
    const membership = resources.find((r) => r.type === 'ProjectMembership');
    expect(membership?.interaction?.map((i) => i.code)).toEqual(['read', 'vread', 'update', 'patch', 'delete', 'history-instance', 'history-type', 'create', 'search-type']);
    expect(membership).toMatchObject({ conditionalCreate: true, conditionalRead: 'full-support', conditionalUpdate: true, conditionalDelete: 'single', updateCreate: false });
    expect(cs.rest?.[0].interaction?.map((i) => i.code)).toEqual(expect.arrayContaining(['transaction', 'batch']));
    expect(cs.patchFormat).toEqual(['application/json-patch+json']);
    expect(membership?.searchParam?.map((p) => p.name)).toEqual(expect.arrayContaining(['_id', '_lastUpdated', 'project', 'user', 'profile', 'access-policy']));
    expect(membership?.searchInclude).toEqual(expect.arrayContaining(['ProjectMembership:profile']));
    const patient = resources.find((r) => r.type === 'Patient');
    expect(patient?.searchParam?.find((p) => p.name === 'birthdate')).toMatchObject({ type: 'date', definition: 'http://hl7.org/fhir/SearchParameter/individual-birthdate' });
    expect(resources.find((r) => r.type === 'Practitioner')?.searchRevInclude).toEqual(expect.arrayContaining(['ProjectMembership:profile']));
    expect(resources.find((r) => r.type === 'User')?.searchParam?.find((p) => p.name === 'email')).toMatchObject({ type: 'string' });
  });

  test('every loaded OperationDefinition is listed in the CapabilityStatement and served publicly', async () => {
    const cs = (await t.app.inject({ method: 'GET', url: '/fhir/R4/metadata' })).json() as CapabilityStatement;
    for (const [id, op] of t.app.ctx.definitions.operations) {
      const res = await t.app.inject({ method: 'GET', url: `/fhir/R4/OperationDefinition/${id}` });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual(op);
      const listed = cs.rest?.[0].resource?.flatMap((r) => r.operation ?? []).concat(cs.rest?.[0].operation ?? []);
      expect(listed?.map((o) => o.definition)).toContain(op.url);
    }
    const unknown = await t.app.inject({ method: 'GET', url: '/fhir/R4/OperationDefinition/nope' });
    expect(unknown.statusCode).toBe(404);
  });

  test('the CapabilityStatement is generated from the operations given', () => {
    const ops = new Map<string, OperationDefinition>([
      ['Patient-everything', { resourceType: 'OperationDefinition', id: 'Patient-everything', url: 'urn:op:everything', name: 'everything', status: 'active', kind: 'operation', code: 'everything', resource: ['Patient'], system: false, type: false, instance: true }],
      ['ping', { resourceType: 'OperationDefinition', id: 'ping', name: 'ping', status: 'active', kind: 'operation', code: 'ping', system: true, type: false, instance: false }],
    ]);
    const cs = buildCapabilityStatement('http://x/', ops, new Date(0));
    expect(cs.rest?.[0].resource?.find((r) => r.type === 'Patient')?.operation).toEqual([{ name: 'everything', definition: 'urn:op:everything' }]);
    expect(cs.rest?.[0].resource?.find((r) => r.type === 'User')?.operation).toBeUndefined();
    expect(cs.rest?.[0].operation).toEqual([{ name: 'ping', definition: 'http://x/fhir/R4/OperationDefinition/ping' }]);
  });

  test('the OpenAPI document describes the FHIR routes', async () => {
    const doc = (await t.app.inject({ method: 'GET', url: '/docs/json' })).json() as { paths: Record<string, Record<string, { parameters?: { name: string; in: string }[] }>> };
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/fhir/R4/{type}', '/fhir/R4/{type}/{id}', '/fhir/R4/{type}/{id}/_history/{vid}', '/fhir/R4/{type}/_history', '/fhir/R4/metadata']));
    const put = doc.paths['/fhir/R4/{type}/{id}'].put;
    expect(put.parameters?.map((p) => `${p.in}:${p.name}`)).toEqual(expect.arrayContaining(['path:type', 'path:id', 'header:if-match']));
    const searchParams = doc.paths['/fhir/R4/{type}'].get.parameters?.map((p) => p.name);
    expect(searchParams).toEqual(expect.arrayContaining(['_count', '_sort', '_include']));
  });
});

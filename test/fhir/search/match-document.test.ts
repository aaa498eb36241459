import type { Patient, ProjectMembership, Resource } from '@medplum/fhirtypes';
import { buildSearchFilter } from '../../../src/fhir/search/filter-builder';
import { documentMatches, documentMatchesSearch, searchDocument } from '../../../src/fhir/search/match-document';
import { parseSearchQuery } from '../../../src/fhir/search/parse-query';
import type { StoredResource } from '../../../src/fhir/repository';
import { create } from '../../helpers/fixtures';
import { useTestApp } from '../../helpers/suite';

/**
 * The in-memory match (used by subscriptions inside a write's transaction) must find exactly what
 * the database finds for the same search: every query below runs both ways on the same documents.
 */
describe('matching one document in memory, as a search would', () => {
  const t = useTestApp();
  const project = 'match-project';

  const patients: Patient[] = [
    { resourceType: 'Patient', gender: 'female', birthDate: '1990-02-03', active: true, name: [{ family: 'Liddell', given: ['Alice', 'Pleasance'] }], telecom: [{ system: 'email', value: 'Alice@Example.com' }], identifier: [{ system: 'urn:mrn', value: 'A-1' }] },
    { resourceType: 'Patient', gender: 'male', birthDate: '1980', active: false, name: [{ family: 'Builder', given: ['Bob'] }], address: [{ city: 'Bristol', line: ['1 Dock Road'] }] },
    { resourceType: 'Patient', gender: 'other', birthDate: '1990-02', name: [{ family: "O'Hara", given: ['Scarlett'] }], identifier: [{ system: 'urn:other', value: 'A-1' }] },
    { resourceType: 'Patient', name: [{ text: 'Nameless Text' }] },
    { resourceType: 'Patient', gender: 'female', birthDate: '2001-12-31', name: [{ family: 'Ålesund', given: ['Åse'] }], telecom: [{ system: 'phone', value: '+47 123' }] },
    { resourceType: 'Patient', gender: 'unknown', birthDate: '1990-02-03', name: [{ family: 'Comma, Person' }] },
  ];
  const queries = [
    '',
    'gender=female',
    'gender=female,male',
    'gender:not=female',
    'gender:missing=true',
    'gender:missing=false',
    'active=true',
    'active:not=true',
    'family=lid',
    'family:exact=Liddell',
    'family:exact=liddell',
    'family:contains=ild',
    'name=alice',
    'name=nameless',
    'name=ase',
    'given=Bob,Scarlett',
    'family=Comma\\, Person',
    'address=bristol',
    'email=alice@example.com',
    'telecom=+47 123',
    'identifier=A-1',
    'identifier=urn:mrn|A-1',
    'identifier=urn:mrn|',
    'identifier=|A-1',
    'birthdate=1990',
    'birthdate=1990-02-03',
    'birthdate=ge1990-02-03',
    'birthdate=gt1990-02',
    'birthdate=lt1990',
    'birthdate=le1990-02-03',
    'birthdate=ne1990',
    'birthdate=sa1985',
    'birthdate=eb2000',
    'birthdate:missing=true',
    'birthdate=ge1985&birthdate=le1995',
    'gender=female&birthdate=lt2000',
    '_lastUpdated=gt2000-01-01',
    '_lastUpdated=lt2000-01-01',
  ];

  let stored: StoredResource[];

  beforeAll(async () => {
    for (const patient of patients) {
      await create(t.app, patient, project);
    }
    stored = await t.app.ctx.database.db.collection<StoredResource>('Patient').find({ project, deleted: false }).toArray();
    expect(stored).toHaveLength(patients.length);
  });

  test.each(queries)('Patient?%s finds the same resources in memory and in the database', async (query) => {
    const { request } = parseSearchQuery('Patient', [...new URLSearchParams(query)]);
    const filter = buildSearchFilter('Patient', request.filters);
    const found = await t.app.ctx.database.db.collection<StoredResource>('Patient').find({ $and: [{ project, deleted: false }, filter] }).toArray();
    const inMemory = stored.filter((doc) => documentMatches(doc, filter as Record<string, unknown>));
    expect(inMemory.map((d) => d._id).sort()).toEqual(found.map((d) => d._id).sort());
  });

  test('a resource version not stored yet matches from its own fields (what a change listener sees)', () => {
    const resource: Resource = { resourceType: 'ProjectMembership', id: 'm1', meta: { project }, project: { reference: `Project/${project}` }, user: { reference: 'User/u1' }, profile: { reference: 'Practitioner/p1' }, admin: true } as ProjectMembership;
    const doc = searchDocument(resource, { id: 'm1', lastUpdated: new Date('2026-01-01T00:00:00Z'), project });
    const matches = (query: string) => documentMatchesSearch('ProjectMembership', doc, parseSearchQuery('ProjectMembership', [...new URLSearchParams(query)]).request.filters);
    expect(matches(`project=Project/${project}`)).toBe(true);
    expect(matches(`project=${project}`)).toBe(true);
    expect(matches('project=Project/other')).toBe(false);
    expect(matches('admin=true&user=User/u1')).toBe(true);
    expect(matches('admin=false')).toBe(false);
    expect(matches('_id=m1')).toBe(true);
    expect(matches(`_project=${project}`)).toBe(true);
    expect(matches('_lastUpdated=ge2026-01-01')).toBe(true);
    expect(matches('_lastUpdated=lt2026-01-01')).toBe(false);
  });

  test('an operator the filter builder never emits is refused rather than guessed', () => {
    expect(() => documentMatches({ a: 1 }, { a: { $where: 'true' } })).toThrow(/not evaluated in memory/);
    expect(() => documentMatches({ a: 1 }, { $expr: {} })).toThrow(/not evaluated in memory/);
  });
});

import type { Patient, ProjectMembership, RelatedPerson, User } from '@medplum/fhirtypes';
import { findProfilesDir, loadDefinitions } from '../../../src/fhir/definitions';
import { computeSearchFields } from '../../../src/fhir/search/index-fields';
import { indexedParam, INDEXED_PARAMS } from '../../../src/fhir/search/supported-params';

beforeAll(() => {
  loadDefinitions(findProfilesDir());
});

describe('computeSearchFields', () => {
  const patient: Patient = {
    resourceType: 'Patient',
    active: true,
    gender: 'female',
    birthDate: '1980-02',
    name: [{ family: 'Quillfeather', given: ['Hëlga', 'Mae'] }],
    telecom: [
      { system: 'email', value: 'Helga@Example.COM' },
      { system: 'phone', value: '+1 555 0100' },
    ],
    identifier: [{ system: 'urn:mrn', value: 'MRN-7' }, { value: 'loose' }],
    address: [{ line: ['1 Hogsmeade Road'], city: 'Hogsmeade' }],
  };

  test('invite-status: the stored status as a token and the expiry indexed beside it', () => {
    const membership: ProjectMembership = {
      resourceType: 'ProjectMembership',
      project: { reference: 'Project/p' },
      user: { reference: 'User/u' },
      profile: { reference: 'Practitioner/x' },
      extension: [
        {
          url: 'https://fhir-invite-server.example/fhir/StructureDefinition/invite-status',
          extension: [
            { url: 'status', valueCode: 'pending' },
            { url: 'expiresAt', valueDateTime: '2026-01-22T12:00:00.000Z' },
          ],
        },
      ],
    };
    const sp = computeSearchFields(membership);
    expect(sp['invite-status']).toEqual(['pending']);
    expect(sp['invite-status:expires']).toEqual(new Date('2026-01-22T12:00:00.000Z'));
    expect(computeSearchFields({ ...membership, extension: [] })).not.toHaveProperty('invite-status:expires');
  });

  test('strings are kept as written and normalized (lower case, no accents), every name part and the whole', () => {
    const sp = computeSearchFields(patient);
    expect(sp.name).toEqual(
      expect.arrayContaining([
        { n: 'quillfeather', v: 'Quillfeather' },
        { n: 'helga', v: 'Hëlga' },
        { n: 'mae', v: 'Mae' },
        { n: 'helga mae quillfeather', v: 'Hëlga Mae Quillfeather' },
      ]),
    );
    expect(sp.family).toEqual([{ n: 'quillfeather', v: 'Quillfeather' }]);
    expect(sp.given).toEqual([
      { n: 'helga', v: 'Hëlga' },
      { n: 'mae', v: 'Mae' },
    ]);
    expect(sp.address).toEqual(expect.arrayContaining([{ n: 'hogsmeade', v: 'Hogsmeade' }]));
  });

  test('tokens are indexed as code and system|code (|code without a system); email values lower-cased', () => {
    const sp = computeSearchFields(patient);
    expect(sp.email).toEqual(['helga@example.com', 'email|helga@example.com']);
    expect(sp.phone).toEqual(['+1 555 0100', 'phone|+1 555 0100']);
    expect(sp.telecom).toEqual(expect.arrayContaining(['email|helga@example.com', 'phone|+1 555 0100']));
    expect(sp.identifier).toEqual(['MRN-7', 'urn:mrn|MRN-7', 'loose', '|loose']);
    expect(sp.gender).toEqual(['female']);
    expect(sp.active).toEqual(['true']);
  });

  test('dates are ranges at their precision', () => {
    expect(computeSearchFields(patient).birthdate).toEqual([{ s: new Date('1980-02-01T00:00:00Z'), e: new Date('1980-03-01T00:00:00Z') }]);
  });

  test('references are Type/id, also from absolute references', () => {
    const membership: ProjectMembership = {
      resourceType: 'ProjectMembership',
      project: { reference: 'Project/p1' },
      user: { reference: 'https://example.org/fhir/R4/User/u1' },
      profile: { reference: 'Practitioner/pr1' },
      access: [{ policy: { reference: 'AccessPolicy/ap1' } }],
      admin: true,
    };
    const sp = computeSearchFields(membership);
    expect(sp.project).toEqual(['Project/p1']);
    expect(sp.user).toEqual(['User/u1']);
    expect(sp.profile).toEqual(['Practitioner/pr1']);
    expect(sp['access-policy']).toEqual(['AccessPolicy/ap1']);
    expect(sp.admin).toEqual(['true']);
    const related: RelatedPerson = { resourceType: 'RelatedPerson', patient: { reference: 'Patient/x' } };
    expect(computeSearchFields(related).patient).toEqual(['Patient/x']);
  });

  test('User email is a string parameter (our copy of the Medplum definition)', () => {
    const user: User = { resourceType: 'User', firstName: 'A', lastName: 'B', email: 'Ann@Example.com', project: { reference: 'Project/p1' } };
    const sp = computeSearchFields(user);
    expect(sp.email).toEqual([{ n: 'ann@example.com', v: 'Ann@Example.com' }]);
    expect(sp.project).toEqual(['Project/p1']);
  });

  test('parameters without values are absent, and unindexed ones are never computed', () => {
    const sp = computeSearchFields({ resourceType: 'Patient' });
    expect(sp).toEqual({});
    expect(Object.keys(computeSearchFields(patient))).not.toContain('language');
  });

  test('every indexed parameter resolves to a definition of the declared kind', () => {
    for (const [type, params] of Object.entries(INDEXED_PARAMS)) {
      for (const code of Object.keys(params)) {
        expect({ type, code, found: indexedParam(type, code) !== undefined }).toEqual({ type, code, found: true });
      }
    }
  });
});

import { valueSetCodes } from '../../src/fhir/value-sets';

// The catalog keeps only urls, systems and codes of the shipped value sets and code systems;
// these expansions are the same as from the full resources (checked against them when the
// catalog was slimmed).
describe('valueSetCodes', () => {
  test('a value set listing its codes: administrative-gender (with or without |version)', () => {
    const set = valueSetCodes('http://hl7.org/fhir/ValueSet/administrative-gender|4.0.1');
    expect(set).toBeDefined();
    expect(['male', 'female', 'other', 'unknown'].every((c) => set?.hasCode(c))).toBe(true);
    expect(set?.hasCode('M')).toBe(false);
    expect(set?.hasCoding('http://hl7.org/fhir/administrative-gender', 'female')).toBe(true);
    expect(set?.hasCoding('http://example.org/other', 'female')).toBe(false);
    expect(set?.hasCoding(undefined, 'female')).toBe(false);
  });

  test('a value set including a whole code system, nested concepts too', () => {
    const set = valueSetCodes('http://hl7.org/fhir/ValueSet/contact-point-system');
    expect(set?.hasCoding('http://hl7.org/fhir/contact-point-system', 'email')).toBe(true);
    expect(set?.sample(100).sort()).toEqual(['email', 'fax', 'other', 'pager', 'phone', 'sms', 'url']);
    // v3 RoleCode's codes sit deep in its concept tree (MTH under _PersonalRelationshipRoleType, FAMMEMB...).
    const roles = valueSetCodes('http://terminology.hl7.org/ValueSet/v3-RoleCode');
    expect(roles?.hasCoding('http://terminology.hl7.org/CodeSystem/v3-RoleCode', 'MTH')).toBe(true);
    expect(roles?.hasCode('NOT-A-ROLE')).toBe(false);
    // Two includes from two systems: v3 MaritalStatus and NullFlavor's UNK.
    const marital = valueSetCodes('http://hl7.org/fhir/ValueSet/marital-status');
    expect(marital?.hasCoding('http://terminology.hl7.org/CodeSystem/v3-MaritalStatus', 'M')).toBe(true);
    expect(marital?.hasCoding('http://terminology.hl7.org/CodeSystem/v3-NullFlavor', 'UNK')).toBe(true);
    expect(marital?.hasCoding('http://terminology.hl7.org/CodeSystem/v3-NullFlavor', 'NI')).toBe(false);
  });

  test('a value set that cannot be expanded here (a filter, a system not shipped) answers undefined', () => {
    expect(valueSetCodes('http://hl7.org/fhir/ValueSet/mimetypes')).toBeUndefined();
    expect(valueSetCodes('http://example.org/ValueSet/unknown')).toBeUndefined();
  });
});

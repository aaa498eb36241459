import { hasPath, jsonEqual, removePath, sameAt, valuesAt } from '../../src/access/field-paths';

describe('field paths', () => {
  const patient = {
    resourceType: 'Patient',
    birthDate: '1990-01-01',
    name: [
      { family: 'Smith', given: ['Ann'] },
      { family: 'Jones', given: ['A'] },
    ],
    contact: [{ name: { family: 'Doe' } }],
  };

  test('removePath drops a top-level element and leaves the input untouched', () => {
    const before = JSON.stringify(patient);
    const result = removePath(patient, 'birthDate');
    expect(result).not.toHaveProperty('birthDate');
    expect(result.name).toBe(patient.name);
    expect(JSON.stringify(patient)).toBe(before);
  });

  test('removePath steps into every array element, at any depth', () => {
    const result = removePath(removePath(patient, 'name.family'), 'contact.name.family');
    expect(result.name).toEqual([{ given: ['Ann'] }, { given: ['A'] }]);
    expect(result.contact).toEqual([{ name: {} }]);
    expect(patient.name[0].family).toBe('Smith');
    expect(patient.contact[0].name.family).toBe('Doe');
  });

  test('removePath of an absent path returns the same object', () => {
    expect(removePath(patient, 'gender')).toBe(patient);
    expect(removePath(patient, 'telecom.value')).toBe(patient);
  });

  test('valuesAt flattens arrays; hasPath and sameAt build on it', () => {
    expect(valuesAt(patient, 'name.family')).toEqual(['Smith', 'Jones']);
    expect(valuesAt(patient, 'name.given')).toEqual(['Ann', 'A']);
    expect(valuesAt(patient, 'gender')).toEqual([]);
    expect(hasPath(patient, 'contact.name.family')).toBe(true);
    expect(hasPath(patient, 'gender')).toBe(false);
    expect(sameAt(patient, { name: [{ family: 'Smith' }, { family: 'Jones' }] }, 'name.family')).toBe(true);
    expect(sameAt(patient, { name: [{ family: 'Smith' }] }, 'name.family')).toBe(false);
    expect(sameAt(patient, {}, 'gender')).toBe(true);
  });

  test('jsonEqual ignores key order and undefined members, not array order', () => {
    expect(jsonEqual({ a: 1, b: { c: [1, 2] } }, { b: { c: [1, 2] }, a: 1 })).toBe(true);
    expect(jsonEqual({ a: 1, b: undefined }, { a: 1 })).toBe(true);
    expect(jsonEqual([1, 2], [2, 1])).toBe(false);
    expect(jsonEqual({ a: 1 }, { a: '1' })).toBe(false);
    expect(jsonEqual(null, {})).toBe(false);
  });
});

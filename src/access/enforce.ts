import { matchesSearchRequest } from '@medplum/core';
import type { Extension, Resource } from '@medplum/fhirtypes';
import { badRequest, FhirError, forbidden } from '../errors';
import { inProjects, READ_INTERACTIONS, rulesOf, SECRET_FIELDS, WRITE_ONLY_EXTENSIONS, type AccessRule, type AccessScope, type Interaction, type ResourceAccess } from './access-scope';
import { readOnlyInteractions } from '../fhir/resource-types';
import { hasPath, jsonEqual, removePath, sameAt, topLevel } from './field-paths';

/** The CapabilityStatement codes of each interaction (see READ_ONLY_TYPES). */
const INTERACTION_CODES: Readonly<Record<Interaction, readonly string[]>> = {
  read: ['read'],
  vread: ['vread'],
  search: ['search-type'],
  history: ['history-instance', 'history-type'],
  create: ['create'],
  update: ['update', 'patch'],
  delete: ['delete'],
};

/** 405 for everyone (super administrator included) when a read-only type does not answer the interaction. */
function refuseUndeclared(resourceType: string, interaction: Interaction): void {
  const declared = readOnlyInteractions(resourceType);
  if (declared && !INTERACTION_CODES[interaction].some((code) => declared.includes(code))) {
    const err = new FhirError('FST_NOT_ALLOWED', `${resourceType} answers ${declared.join(' and ')} only: the server writes these resources itself and nobody may ${interaction} them`);
    err.headers = { allow: 'GET, HEAD' };
    throw err;
  }
}

/** The access to a type for an interaction; 405 when the type does not answer it (READ_ONLY_TYPES), else 403 without access. */
export function requireInteraction(scope: AccessScope, resourceType: string, interaction: Interaction): ResourceAccess {
  refuseUndeclared(resourceType, interaction);
  const access = scope.forType(resourceType);
  if (!access || !access.interactions.has(interaction)) {
    throw forbidden(`You may not ${interaction} ${resourceType} resources`);
  }
  return access;
}

function grants(rule: AccessRule, interaction?: Interaction): boolean {
  return interaction ? rule.interactions.has(interaction) : READ_INTERACTIONS.some((i) => rule.interactions.has(i));
}

function matches(rule: AccessRule, resource: Resource): boolean {
  if (!rule.criteria) {
    return true;
  }
  try {
    return matchesSearchRequest(resource, rule.criteria);
  } catch {
    return false;
  }
}

/** The rules granting an interaction (any read one when not given) that apply to this resource. */
export function applicableRules(access: ResourceAccess, resource: Resource, interaction?: Interaction): AccessRule[] {
  return rulesOf(access).filter((r) => grants(r, interaction) && matches(r, resource));
}

/**
 * Whether the caller may see this resource: it lies in the caller's projects and a rule granting
 * `interaction` (by default any read interaction) has criteria it matches. For User resources
 * the routes call `canSeeUser` instead (a User is confined by `User.project`, see user-visibility.ts).
 */
export function canSee(scope: AccessScope, resource: Resource, interaction?: Interaction): boolean {
  if (!inProjects(scope, resource)) {
    return false;
  }
  const access = scope.forType(resource.resourceType);
  return access !== undefined && applicableRules(access, resource, interaction).length > 0;
}

function intersection(lists: string[][]): string[] {
  const [first, ...rest] = lists;
  return (first ?? []).filter((f) => rest.every((l) => l.includes(f)));
}

/**
 * The fields hidden from the caller on this resource: those every applicable read rule hides
 * (policies add up: a field one of them shows is shown), all of the type's hidden fields when
 * no rule applies, and always the secret fields.
 */
export function hiddenFieldsFor(access: ResourceAccess, resource: Resource): string[] {
  const rules = applicableRules(access, resource);
  const hidden = rules.length > 0 ? intersection(rules.map((r) => r.hiddenFields)) : rulesOf(access).flatMap((r) => r.hiddenFields);
  return [...new Set([...(SECRET_FIELDS[resource.resourceType] ?? []), ...hidden])];
}

/** A copy of the resource without the fields hidden from the caller; the input is not changed. */
export function redact<T extends Resource>(access: ResourceAccess, resource: T): T {
  let result = withoutWriteOnlyExtensions(resource);
  for (const path of hiddenFieldsFor(access, resource)) {
    result = removePath(result, path);
  }
  return result;
}

/** A copy without the extensions nobody may read back (WRITE_ONLY_EXTENSIONS); the input itself when it has none. */
export function withoutWriteOnlyExtensions<T extends Resource>(resource: T): T {
  const urls = WRITE_ONLY_EXTENSIONS[resource.resourceType];
  const extensions = (resource as { extension?: Extension[] }).extension;
  if (!urls || !Array.isArray(extensions) || !extensions.some((e) => urls.includes(e?.url))) {
    return resource;
  }
  const kept = extensions.filter((e) => !urls.includes(e?.url));
  const copy = { ...resource } as T & { extension?: Extension[] };
  if (kept.length > 0) {
    copy.extension = kept;
  } else {
    delete copy.extension;
  }
  return copy;
}

/** An update that leaves out a write-only extension keeps the stored one (it could not have been read). */
function keepWriteOnlyExtensions<T extends Resource>(resource: T, existing: Resource | undefined): T {
  const urls = WRITE_ONLY_EXTENSIONS[resource.resourceType];
  const stored = ((existing as { extension?: Extension[] } | undefined)?.extension ?? []).filter((e) => urls?.includes(e?.url));
  const incoming = (resource as { extension?: unknown }).extension;
  if (!urls || stored.length === 0 || (incoming !== undefined && !Array.isArray(incoming))) {
    return resource;
  }
  const given = (incoming as Extension[] | undefined) ?? [];
  if (given.some((e) => urls.includes(e?.url))) {
    return resource;
  }
  return { ...resource, extension: [...given, ...stored] };
}

/**
 * Before a write: the caller cannot see hidden fields, so an update must not erase or set them.
 * Returns a copy of the incoming resource whose hidden fields hold the existing values (none on
 * a create). For a nested path ('name.family') the existing element is kept when the caller left
 * the rest of it unchanged; otherwise the hidden part is dropped. Call before `checkWrite`.
 */
export function restoreHiddenFields<T extends Resource>(access: ResourceAccess, given: T, existing?: Resource): T {
  const resource = keepWriteOnlyExtensions(given, existing);
  const hidden = hiddenFieldsFor(access, existing ?? resource).filter((f) => !(SECRET_FIELDS[resource.resourceType] ?? []).includes(f));
  let result = { ...resource } as Record<string, unknown>;
  const previous = (existing ?? {}) as Record<string, unknown>;
  for (const path of hidden) {
    const top = topLevel(path);
    if (path === top) {
      delete result[top];
      if (previous[top] !== undefined) {
        result[top] = previous[top];
      }
      continue;
    }
    const stripped = removePath(result, path);
    if (previous[top] !== undefined && jsonEqual(stripped[top], removePath(previous, path)[top])) {
      result[top] = previous[top];
    } else {
      result = stripped;
    }
  }
  return result as T;
}

function label(resource: Resource): string {
  return resource.id ? `${resource.resourceType}/${resource.id}` : `this ${resource.resourceType}`;
}

function readonlyError(type: string, field: string, creating: boolean): FhirError {
  const expression = `${type}.${field}`;
  const message = creating ? `${expression} cannot be set by you; leave it out` : `${expression} is read-only for you; send it unchanged`;
  return new FhirError('FST_FORBIDDEN', message, expression);
}

/** Secret fields are never written through the FHIR API, by anyone. */
function checkSecrets(resource: Resource, existing: Resource | undefined): void {
  for (const field of SECRET_FIELDS[resource.resourceType] ?? []) {
    if (!sameAt(resource, existing ?? {}, field)) {
      throw badRequest(`${resource.resourceType}.${field} cannot be written here; secrets are managed through the sign-in endpoints`, `${resource.resourceType}.${field}`);
    }
  }
}

/**
 * Throws 403 when a write would create or change something the caller may not: outside the
 * caller's projects; no rule granting the interaction; for an update or delete, the existing
 * resource outside every rule's criteria; the written resource outside every rule's criteria;
 * a read-only field changed (set, on a create). `interaction` defaults to 'update' when
 * `existing` is given, else 'create'; for a delete pass the existing resource as both.
 */
export function checkWrite(scope: AccessScope, access: ResourceAccess, resource: Resource, existing?: Resource, interaction?: Interaction): void {
  const type = resource.resourceType;
  const action: Interaction = interaction ?? (existing ? 'update' : 'create');
  if (!inProjects(scope, resource) || (existing && !inProjects(scope, existing))) {
    throw forbidden(`You may not write ${type} outside your project`);
  }
  const granting = rulesOf(access).filter((r) => r.interactions.has(action));
  if (granting.length === 0) {
    throw forbidden(`You may not ${action} ${type} resources`);
  }
  const before = existing ? granting.filter((r) => matches(r, existing)) : granting;
  if (before.length === 0) {
    throw forbidden(`You may not ${action} ${label(existing as Resource)}: your access policy does not cover it`);
  }
  if (action === 'delete') {
    return;
  }
  if (!granting.some((r) => matches(r, resource))) {
    throw forbidden(`You may not ${action} ${label(resource)} like this: the result would be outside what your access policy allows`);
  }
  checkSecrets(resource, existing);
  const hidden = hiddenFieldsFor(access, existing ?? resource);
  const rules = existing ? before : granting.filter((r) => matches(r, resource));
  for (const field of intersection(rules.map((r) => r.readonlyFields))) {
    if (hidden.includes(field) && !hasPath(resource, field)) {
      continue;
    }
    if (!sameAt(resource, existing ?? {}, field)) {
      throw readonlyError(type, field, !existing);
    }
  }
}

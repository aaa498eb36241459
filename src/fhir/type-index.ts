import { indexStructureDefinitionBundle, isResourceType } from '@medplum/core';
import type { StructureDefinition } from '@medplum/fhirtypes';
import { shareStrings } from './shared-strings';
import type { StructureDefinitionEntry } from './trimmed-definitions';

/*
 * Start-up time: indexing the 149 core resource StructureDefinitions into @medplum/core took about
 * 220 ms of a ~1 s start, and this server stores ten types. loadDefinitions indexes at once the
 * data types, the stored types and what every request meets (EAGER_RESOURCE_TYPES); the others
 * are indexed a few at a time once the server listens (`indexDeferredTypesInSteps`, from an
 * onListen hook), and all at once the moment anything needs one before that: the validation of a
 * resource holding one (a contained resource, a Bundle entry, a Parameters part) and the question
 * "is X a resource type?" about one.
 *
 * @medplum/core's index is process-wide, so what is left to index is too: it lives here, beside
 * the index it completes, and is only ever drained.
 */

/** Resource types indexed at start besides the stored ones: the base types and the API's envelopes. */
export const EAGER_RESOURCE_TYPES: ReadonlySet<string> = new Set(['Resource', 'DomainResource', 'Parameters', 'Bundle', 'OperationOutcome']);

/** The StructureDefinitions waiting to be indexed, by resource type (a type defers once however often definitions load). */
const deferred = new Map<string, () => StructureDefinition>();

/** Keeps these resource types to index later (see above); each StructureDefinition is loaded when indexed. */
export function deferTypes(types: readonly Pick<StructureDefinitionEntry, 'type' | 'load'>[]): void {
  for (const { type, load } of types) {
    deferred.set(type, load);
  }
}

/** Indexes up to `count` of the deferred StructureDefinitions, in the order they were deferred. */
function drain(count: number): void {
  const batch: StructureDefinition[] = [];
  for (const [type, load] of deferred) {
    if (batch.length >= count) {
      break;
    }
    batch.push(load());
    deferred.delete(type);
  }
  if (batch.length > 0) {
    indexStructureDefinitionBundle(shareStrings(batch));
  }
}

/** Indexes every deferred StructureDefinition now (nothing when none is left). */
export function indexDeferredTypes(): void {
  drain(deferred.size);
}

/**
 * Indexes the deferred StructureDefinitions a few at a time, one batch per turn of the event loop,
 * so that requests arriving meanwhile are answered between batches (all at once, the ~200 ms of
 * indexing held the first /healthcheck answer back by as much). Anything that needs a type still
 * waiting indexes the rest at once (indexDeferredTypes).
 */
export function indexDeferredTypesInSteps(perStep = 8): void {
  drain(perStep);
  if (deferred.size > 0) {
    setImmediate(() => indexDeferredTypesInSteps(perStep)).unref();
  }
}

/** True when `value` holds, at any depth, an object whose `resourceType` is a deferred type. */
function holdsDeferredType(value: unknown): boolean {
  if (Array.isArray(value)) {
    return value.some(holdsDeferredType);
  }
  if (value === null || typeof value !== 'object') {
    return false;
  }
  const record = value as Record<string, unknown>;
  if (typeof record.resourceType === 'string' && deferred.has(record.resourceType)) {
    return true;
  }
  return Object.values(record).some(holdsDeferredType);
}

/** Indexes the deferred types when `resource` (or anything nested in it) is of one of them. */
export function indexDeferredTypesFor(resource: unknown): void {
  if (deferred.size > 0 && holdsDeferredType(resource)) {
    indexDeferredTypes();
  }
}

/** How many StructureDefinitions wait to be indexed (for tests and start-up diagnostics). */
export const deferredTypeCount = (): number => deferred.size;

/** @medplum/core's isResourceType, after indexing the deferred types when `name` is one of them. */
export function isResourceTypeName(name: string): boolean {
  if (deferred.has(name)) {
    indexDeferredTypes();
  }
  // (isResourceType answers undefined, not false, for a name it does not know.)
  return isResourceType(name) === true;
}

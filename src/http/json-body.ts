import type { FastifyInstance } from 'fastify';
import { badRequest } from '../errors';

/**
 * The deepest nesting of objects and arrays a JSON body may have (the outermost object or array
 * is level 1). Deeper bodies are refused (400) before anything walks them: validation is
 * recursive, and a body of 10,000 nested levels overflowed the stack (500).
 *
 * Why 64: real FHIR resources stay far below it (each level of a nested Questionnaire item or
 * extension costs two, an array and an object, so 64 still allows about 30 such levels), and
 * MongoDB stores at most 100 levels per document, with a resource kept one level down in its
 * stored document: a limit well under 100 keeps every accepted resource storable, with room for
 * wrappers such as a Bundle entry.
 */
export const MAX_JSON_DEPTH = 64;

/** The JSON media types the server parses (FHIR JSON and JSON Patch are parsed like JSON). */
export const JSON_TYPES = ['application/json', 'application/fhir+json', 'application/json-patch+json'];

/**
 * Whether a JSON text nests objects and arrays more than `max` levels deep. One pass over the
 * characters, no recursion (so it cannot overflow itself); brackets inside strings do not
 * count. Malformed JSON is left to the parser.
 */
export function jsonNestingExceeds(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) {
        i++; // a backslash escapes the next character, a quote included
      } else if (c === 0x22) {
        inString = false;
      }
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x7b || c === 0x5b) {
      depth++;
      if (depth > max) {
        return true;
      }
    } else if (c === 0x7d || c === 0x5d) {
      depth--;
    }
  }
  return false;
}

/**
 * Parses every JSON media type with Fastify's own JSON parser (`__proto__` and `constructor`
 * keys refused) after refusing bodies nested deeper than MAX_JSON_DEPTH.
 */
export function registerJsonParsers(app: FastifyInstance, bodyLimit: number): void {
  const parse = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser(JSON_TYPES, { parseAs: 'string', bodyLimit }, (request, body, done) => {
    const text = body as string;
    if (jsonNestingExceeds(text, MAX_JSON_DEPTH)) {
      done(badRequest(`The JSON body nests objects and arrays more than ${MAX_JSON_DEPTH} levels deep, which no FHIR resource needs`), undefined);
      return;
    }
    parse(request, text, done);
  });
}

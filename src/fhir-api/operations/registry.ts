import type { OperationDefinition } from '@medplum/fhirtypes';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AppContext } from '../../app-context';

/**
 * Binds each OperationDefinition loaded from fhir-profiles/ to the function that runs it. Building a
 * registry throws when a definition has no handler or a handler has no definition, so a server
 * never starts advertising an operation it cannot run (or running one it does not advertise).
 */

/**
 * What a handler receives: the request (already authenticated by the route), the binding, and
 * its input as one plain object, already checked against the schema derived from the definition
 * (a Parameters body is read into the same shape first; see input-schema.ts).
 */
export interface OperationInvocation {
  request: FastifyRequest;
  reply: FastifyReply;
  definition: OperationDefinition;
  input: Record<string, unknown>;
  /** The resource type of the URL, for type and instance level operations. */
  resourceType?: string;
}

export type OperationHandler = (invocation: OperationInvocation) => Promise<unknown>;

export type OperationLevel = 'system' | 'type' | 'instance';

export interface OperationRoute {
  definition: OperationDefinition;
  handler: OperationHandler;
  level: OperationLevel;
  /** The resource type for type and instance level operations. */
  resourceType?: string;
  /** Relative to the FHIR base, e.g. `/Project/:id/$invite`. */
  path: string;
}

export interface OperationRegistry {
  readonly routes: readonly OperationRoute[];
  /** The binding of an OperationDefinition id, or undefined. */
  get(definitionId: string): OperationRoute | undefined;
  /** The route of `$code` at a level (for a type), e.g. to serve `%24invite` like `$invite`. */
  find(level: OperationLevel, code: string, resourceType?: string): OperationRoute | undefined;
}

function routesOf(definition: OperationDefinition, handler: OperationHandler): OperationRoute[] {
  const routes: OperationRoute[] = [];
  const op = `$${definition.code}`;
  if (definition.system) {
    routes.push({ definition, handler, level: 'system', path: `/${op}` });
  }
  for (const resourceType of definition.resource ?? []) {
    if (definition.type) {
      routes.push({ definition, handler, level: 'type', resourceType, path: `/${resourceType}/${op}` });
    }
    if (definition.instance) {
      routes.push({ definition, handler, level: 'instance', resourceType, path: `/${resourceType}/:id/${op}` });
    }
  }
  return routes;
}

export function createOperationRegistry(
  definitions: ReadonlyMap<string, OperationDefinition>,
  handlers: Readonly<Record<string, OperationHandler>>,
): OperationRegistry {
  const missingHandlers = [...definitions.keys()].filter((id) => !handlers[id]);
  if (missingHandlers.length > 0) {
    throw new Error(`OperationDefinition without a handler: ${missingHandlers.join(', ')}`);
  }
  const missingDefinitions = Object.keys(handlers).filter((id) => !definitions.has(id));
  if (missingDefinitions.length > 0) {
    throw new Error(`Operation handler without an OperationDefinition in fhir-profiles/: ${missingDefinitions.join(', ')}`);
  }
  const routes: OperationRoute[] = [];
  const byId = new Map<string, OperationRoute>();
  for (const [id, definition] of definitions) {
    if (!definition.code || !/^[A-Za-z][A-Za-z0-9-]*$/.test(definition.code)) {
      throw new Error(`OperationDefinition/${id} has no valid code`);
    }
    const own = routesOf(definition, handlers[id]);
    if (own.length === 0) {
      throw new Error(`OperationDefinition/${id} is neither system, type nor instance level (or names no resource)`);
    }
    for (const route of own) {
      if (routes.some((r) => r.path === route.path)) {
        throw new Error(`Two OperationDefinitions bind ${route.path}`);
      }
      routes.push(route);
    }
    byId.set(id, own[0]);
  }
  return {
    routes,
    get: (id) => byId.get(id),
    find: (level, code, resourceType) => routes.find((r) => r.level === level && `$${r.definition.code}` === code && r.resourceType === resourceType),
  };
}

/**
 * One operation: the id of its OperationDefinition in fhir-profiles/ and the function that makes
 * its handler for an app. Adding an operation is its definition (JSON, with the input shape) and
 * one such module, listed in OPERATIONS (operations-routes.ts); the registry refuses to start when either is
 * missing, and the operations plugin registers its routes and checks its input.
 */
export interface OperationModule {
  id: string;
  create(ctx: AppContext): OperationHandler;
  /**
   * How a body that is not a Parameters resource becomes the input (before the schema check);
   * by default it is the plain-JSON object of the parameters. `$validate` takes the resource
   * itself as its body, for instance.
   */
  inputFromBody?(body: unknown): unknown;
}

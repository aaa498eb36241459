import type { FastifyRequest } from 'fastify';
import type { AppContext } from '../../app-context';
import { KeyedLock } from '../../db/keyed-lock';
import { callerScope, FHIR_JSON } from '../request-helpers';
import type { RestDeps } from '../rest/rest-deps';
import { validateForCaller, type ValidateInput } from '../rest/validate';
import type { OperationModule } from './registry';

/**
 * POST /fhir/R4/{type}/$validate and /{type}/{id}/$validate (OperationDefinition/Resource-validate):
 * the body is the resource itself or Parameters (resource, mode, profile); the answer is the
 * OperationOutcome of rest/validate.ts, 200 whether or not the resource passes.
 */
export const resourceValidate: OperationModule = {
  id: 'Resource-validate',
  inputFromBody: (body) => ({ resource: body }),
  create: (ctx: AppContext) => {
    const deps: RestDeps = {
      database: ctx.database,
      clock: ctx.clock,
      baseUrl: ctx.config.baseUrl,
      profiles: ctx.definitions.profiles,
      writeLock: new KeyedLock(),
      listeners: ctx.listeners,
    };
    return async ({ request, reply, input, resourceType }) => {
      const { id } = (request as FastifyRequest<{ Params: { id?: string } }>).params;
      const scope = await callerScope(ctx, request);
      const outcome = await validateForCaller(deps, scope, resourceType as string, id, input as ValidateInput);
      reply.status(200).type(FHIR_JSON);
      return outcome;
    };
  },
};

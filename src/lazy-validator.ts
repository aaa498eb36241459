import AjvCompiler, { type ValidatorFactory } from '@fastify/ajv-compiler';
import type { ErrorObject } from 'ajv';

/** A validator as Fastify and the operations call it: true or false, and the errors of that call. */
export interface Validator {
  (data: unknown): boolean;
  errors?: ErrorObject[] | null;
}

/**
 * A validator that compiles its schema when it first validates. ajv's code generation for the
 * routes' and operations' schemas was about an eighth of start-up; each schema now costs its
 * compile (about a millisecond) at its first use instead, and one never used costs nothing. A
 * schema ajv cannot compile throws at that first use; the tests exercise every route and operation.
 */
export function lazyValidator(compile: () => Validator): Validator {
  let compiled: Validator | undefined;
  const validate: Validator = (data) => {
    compiled ??= compile();
    const valid = compiled(data);
    validate.errors = compiled.errors;
    return valid;
  };
  return validate;
}

/**
 * Fastify's own validator compiler (its ajv, with the app's ajv options and ajv-formats), with
 * every route schema compiled lazily. Fastify lower-cases the property names of a header schema
 * only for its built-in compiler: header schemas here are written in lower case.
 */
export function lazyRouteValidators(): ValidatorFactory {
  const build = AjvCompiler();
  return (externalSchemas, options) => {
    const compile = build(externalSchemas, options);
    // Typed as ajv's ValidateFunction; Fastify only calls it and reads its errors.
    return (route) => lazyValidator(() => compile(route) as Validator) as unknown as ReturnType<typeof compile>;
  };
}

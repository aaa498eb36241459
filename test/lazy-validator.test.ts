import Ajv from 'ajv';
import { lazyValidator, type Validator } from '../src/lazy-validator';

describe('lazyValidator', () => {
  const schema = { type: 'object', properties: { n: { type: 'integer', minimum: 1 } }, required: ['n'] };

  function counted(): { validate: Validator; compiles: () => number } {
    const ajv = new Ajv({ coerceTypes: 'array', allErrors: true });
    let compiles = 0;
    const validate = lazyValidator(() => {
      compiles++;
      return ajv.compile(schema);
    });
    return { validate, compiles: () => compiles };
  }

  it('compiles nothing until it first validates, then once', () => {
    const { validate, compiles } = counted();
    expect(compiles()).toBe(0);
    expect(validate({ n: 2 })).toBe(true);
    expect(validate({ n: 3 })).toBe(true);
    expect(validate({ n: 0 })).toBe(false);
    expect(compiles()).toBe(1);
  });

  it('carries the errors of each call, and none after a valid one', () => {
    const { validate } = counted();
    expect(validate({})).toBe(false);
    expect(validate.errors?.map((e) => e.params)).toEqual([{ missingProperty: 'n' }]);
    expect(validate({ n: 0 })).toBe(false);
    expect(validate.errors?.map((e) => e.instancePath)).toEqual(['/n']);
    expect(validate({ n: 1 })).toBe(true);
    expect(validate.errors ?? null).toBeNull();
  });

  it("keeps ajv's coercion (the data is changed in place as before)", () => {
    const { validate } = counted();
    const data = { n: '7' };
    expect(validate(data)).toBe(true);
    expect(data).toEqual({ n: 7 });
  });

  it('throws at the first use of a schema ajv cannot compile, and again at the next', () => {
    const ajv = new Ajv();
    const validate = lazyValidator(() => ajv.compile({ type: 'no-such-type' }));
    expect(() => validate({})).toThrow(/type/);
    expect(() => validate({})).toThrow(/type/);
  });
});

import { applyJsonPatch, parseJsonPatch } from '../../../src/fhir-api/rest/json-patch';
import { thrown } from '../../helpers/access';

/** RFC 6902 behaviour (examples after its Appendix A), on resources. */
describe('JSON Patch', () => {
  const apply = (doc: object, ops: unknown[]) => applyJsonPatch(doc, parseJsonPatch(ops, 'Patient'));
  const status = (fn: () => unknown) => thrown(fn)?.statusCode;

  test('add: an object member, an array element (by index and with -), a whole array', () => {
    expect(apply({ a: 1 }, [{ op: 'add', path: '/b', value: 'x' }])).toEqual({ a: 1, b: 'x' });
    expect(apply({ a: ['x', 'z'] }, [{ op: 'add', path: '/a/1', value: 'y' }])).toEqual({ a: ['x', 'y', 'z'] });
    expect(apply({ a: ['x'] }, [{ op: 'add', path: '/a/-', value: 'y' }])).toEqual({ a: ['x', 'y'] });
    expect(apply({ a: 1 }, [{ op: 'add', path: '/a', value: [1, 2] }])).toEqual({ a: [1, 2] });
    expect(apply({}, [{ op: 'add', path: '/a~1b', value: 1 }, { op: 'add', path: '/c~0d', value: 2 }])).toEqual({ 'a/b': 1, 'c~d': 2 });
  });

  test('remove, replace, move, copy and test', () => {
    expect(apply({ a: [1, 2, 3] }, [{ op: 'remove', path: '/a/1' }])).toEqual({ a: [1, 3] });
    expect(apply({ a: 1 }, [{ op: 'replace', path: '/a', value: 2 }])).toEqual({ a: 2 });
    expect(apply({ a: { b: 1 }, c: {} }, [{ op: 'move', from: '/a/b', path: '/c/d' }])).toEqual({ a: {}, c: { d: 1 } });
    expect(apply({ a: [1, 2, 3, 4] }, [{ op: 'move', from: '/a/1', path: '/a/3' }])).toEqual({ a: [1, 3, 4, 2] });
    expect(apply({ a: { b: [1] } }, [{ op: 'copy', from: '/a', path: '/c' }])).toEqual({ a: { b: [1] }, c: { b: [1] } });
    expect(apply({ a: { x: 1, y: [2] } }, [{ op: 'test', path: '/a', value: { y: [2], x: 1 } }])).toEqual({ a: { x: 1, y: [2] } });
  });

  test('the document given is not changed, and a failing operation leaves nothing half-applied', () => {
    const doc = { a: [1], b: { c: 1 } };
    apply(doc, [{ op: 'add', path: '/a/-', value: 2 }, { op: 'remove', path: '/b/c' }]);
    expect(doc).toEqual({ a: [1], b: { c: 1 } });
    expect(status(() => apply(doc, [{ op: 'remove', path: '/b/c' }, { op: 'test', path: '/a/0', value: 2 }]))).toBe(422);
    expect(doc).toEqual({ a: [1], b: { c: 1 } });
  });

  test('operations that cannot apply to the resource as it is are 422', () => {
    expect(status(() => apply({ a: [1] }, [{ op: 'add', path: '/a/5', value: 1 }]))).toBe(422);
    expect(status(() => apply({ a: [1] }, [{ op: 'replace', path: '/b', value: 1 }]))).toBe(422);
    expect(status(() => apply({ a: [1] }, [{ op: 'add', path: '/x/y', value: 1 }]))).toBe(422);
    expect(status(() => apply({ a: [1] }, [{ op: 'remove', path: '/a/01' }]))).toBe(422);
    expect(status(() => apply({ a: { b: {} } }, [{ op: 'move', from: '/a', path: '/a/b/c' }]))).toBe(422);
    expect(status(() => apply({ a: 1 }, [{ op: 'test', path: '/a', value: '1' }]))).toBe(422);
  });

  test('patches are refused (400) when malformed or when they change id, meta or resourceType; test may read them', () => {
    expect(status(() => parseJsonPatch({}, 'Patient'))).toBe(400);
    expect(status(() => parseJsonPatch([{ op: 'copy', path: '/a' }], 'Patient'))).toBe(400);
    expect(status(() => parseJsonPatch([{ op: 'add', path: '/constructor/x', value: 1 }], 'Patient'))).toBe(400);
    expect(status(() => parseJsonPatch([{ op: 'remove', path: '/meta/tag' }], 'Patient'))).toBe(400);
    expect(parseJsonPatch([{ op: 'test', path: '/meta/versionId', value: '1' }], 'Patient')).toHaveLength(1);
    expect(parseJsonPatch([{ op: 'copy', from: '/id', path: '/identifier/0/value' }], 'Patient')).toHaveLength(1);
  });
});

import { snapshotDatabase } from '../helpers/app';
import { useSignIn, useTestApp } from '../helpers/suite';
import { jsonNestingExceeds, MAX_JSON_DEPTH } from '../../src/http/json-body';

/**
 * A Patient whose JSON nests exactly `depth` levels: the Patient (1), then an extension array
 * and object per level (the innermost extension sits at 2k + 1 for k levels), ending in a
 * Coding (one more level) or a Reference with an Identifier (two more).
 */
function nestedPatient(depth: number): Record<string, unknown> {
  const even = depth % 2 === 0;
  const levels = even ? (depth - 2) / 2 : (depth - 3) / 2;
  let inner: Record<string, unknown> = even
    ? { url: 'http://example.org/leaf', valueCoding: { code: 'x' } }
    : { url: 'http://example.org/leaf', valueReference: { identifier: { value: 'x' } } };
  for (let i = 1; i < levels; i++) {
    inner = { url: `http://example.org/level-${levels - i}`, extension: [inner] };
  }
  return { resourceType: 'Patient', extension: [inner] };
}

function depthOf(value: unknown): number {
  if (value === null || typeof value !== 'object') {
    return 0;
  }
  const children = Array.isArray(value) ? value : Object.values(value);
  return 1 + Math.max(0, ...children.map(depthOf));
}

/** `levels` nested arrays inside a Patient's extension: the shape of the 500 found by the probe. */
function deepBody(levels: number): string {
  return `{"resourceType":"Patient","extension":${'['.repeat(levels)}${']'.repeat(levels)}}`;
}

describe('JSON nesting limit', () => {
  const t = useTestApp();
  const admin = useSignIn(t);

  test('the helper builds bodies of exactly the depth asked', () => {
    expect(depthOf(nestedPatient(MAX_JSON_DEPTH))).toBe(MAX_JSON_DEPTH);
    expect(depthOf(nestedPatient(MAX_JSON_DEPTH + 1))).toBe(MAX_JSON_DEPTH + 1);
  });

  test.each(['application/json', 'application/fhir+json', 'application/fhir+json; charset=utf-8', 'application/json-patch+json'])(
    'a body nested 10,000 levels deep sent as %s is a 400 OperationOutcome, and nothing is written',
    async (type) => {
      const before = await snapshotDatabase(t.app);
      const res = await t.app.inject({ method: 'POST', url: '/fhir/R4/Patient', headers: { ...admin.headers, 'content-type': type }, payload: deepBody(10_000) });
      expect(res.statusCode).toBe(400);
      expect(res.headers['content-type']).toContain('application/fhir+json');
      expect(res.json()).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'invalid' }] });
      expect(res.json().issue[0].details.text).toBe(`The JSON body nests objects and arrays more than ${MAX_JSON_DEPTH} levels deep, which no FHIR resource needs`);
      expect(await snapshotDatabase(t.app)).toEqual(before);
    },
  );

  test('every JSON route refuses it the same way (invite, update, sign-in)', async () => {
    const project = admin.project?.reference?.split('/')[1];
    const deep = '{"a":'.repeat(10_000) + '1' + '}'.repeat(10_000);
    for (const [method, url] of [
      ['POST', `/fhir/R4/Project/${project}/$invite`],
      ['POST', `/admin/projects/${project}/invite`],
      ['PUT', '/fhir/R4/Patient/some-id'],
      ['POST', '/auth/login'],
    ] as const) {
      const res = await t.app.inject({ method, url, headers: { ...admin.headers, 'content-type': 'application/json' }, payload: deep });
      expect({ url, status: res.statusCode, text: res.json().issue?.[0]?.details?.text }).toEqual({
        url,
        status: 400,
        text: expect.stringContaining(`more than ${MAX_JSON_DEPTH} levels deep`),
      });
    }
  });

  test(`a legitimate resource nested exactly ${MAX_JSON_DEPTH} levels deep is stored and read back whole`, async () => {
    const patient = nestedPatient(MAX_JSON_DEPTH);
    const created = await t.app.inject({ method: 'POST', url: '/fhir/R4/Patient', headers: { ...admin.headers, 'content-type': 'application/fhir+json' }, payload: patient });
    expect(created.statusCode).toBe(201);
    const read = await t.app.inject({ method: 'GET', url: `/fhir/R4/Patient/${created.json().id}`, headers: admin.headers });
    expect(read.statusCode).toBe(200);
    expect(read.json().extension).toEqual(patient.extension);
  });

  test('one level more is refused', async () => {
    const before = await snapshotDatabase(t.app);
    const res = await t.app.inject({ method: 'POST', url: '/fhir/R4/Patient', headers: { ...admin.headers, 'content-type': 'application/fhir+json' }, payload: nestedPatient(MAX_JSON_DEPTH + 1) });
    expect(res.statusCode).toBe(400);
    expect(await snapshotDatabase(t.app)).toEqual(before);
  });
});

describe('jsonNestingExceeds', () => {
  test('counts objects and arrays, not brackets inside strings or escaped quotes', () => {
    expect(jsonNestingExceeds('[[1]]', 2)).toBe(false);
    expect(jsonNestingExceeds('[[[1]]]', 2)).toBe(true);
    expect(jsonNestingExceeds('{"a":{"b":[]}}', 3)).toBe(false);
    expect(jsonNestingExceeds('{"a":{"b":[{}]}}', 3)).toBe(true);
    expect(jsonNestingExceeds(JSON.stringify({ a: '[[[[{{{{' }), 1)).toBe(false);
    expect(jsonNestingExceeds(JSON.stringify({ a: 'quote \\" then [[[[' }), 1)).toBe(false);
    expect(jsonNestingExceeds(JSON.stringify({ a: 'backslash \\\\', b: [[[]]] }), 3)).toBe(true);
  });

  test('walks a million levels without recursion', () => {
    expect(jsonNestingExceeds('['.repeat(1_000_000) + ']'.repeat(1_000_000), MAX_JSON_DEPTH)).toBe(true);
  });
});

import { evalFhirPath, getSearchParameter, getSearchParameters } from '@medplum/core';
import type { Bundle, CapabilityStatement, CapabilityStatementRestResource, OperationDefinition, OperationOutcome } from '@medplum/fhirtypes';
import type { LightMyRequestResponse } from 'fastify';
import { FHIR_JSON } from '../helpers/fhir';
import { uniqueEmail } from '../helpers/fixtures';
import { createEveryType, type Stored } from '../helpers/every-type';
import { useSignIn, useTestApp } from '../helpers/suite';

/**
 * The CapabilityStatement is the truth: this suite reads it and tries every interaction, search
 * parameter, _include/_revinclude, operation and system interaction it declares (each must work),
 * and tries what it does not declare (each must not). It knows how to try every interaction code
 * of FHIR R4, so whatever the server comes to declare is tried too.
 */

const R4_TYPE_INTERACTIONS = ['read', 'vread', 'update', 'patch', 'delete', 'history-instance', 'history-type', 'create', 'search-type'];
const R4_SYSTEM_INTERACTIONS = ['transaction', 'batch', 'search-system', 'history-system'];

type Res = Stored;

const CONTACT_SYSTEMS = new Set(['phone', 'fax', 'email', 'pager', 'url', 'sms', 'other']);

/** A search value for a parameter from one value its expression yields on the resource. */
function searchValue(kind: string, value: unknown): string | undefined {
  if (value === undefined || value === null) {
    return undefined;
  }
  if (typeof value !== 'object') {
    return String(value);
  }
  const v = value as Record<string, unknown>;
  switch (kind) {
    case 'reference':
      return typeof v.reference === 'string' ? v.reference : undefined;
    case 'token':
      if (typeof v.value === 'string') {
        // A ContactPoint's system is a kind (phone, email); an Identifier's is a namespace URI.
        return typeof v.system === 'string' && !CONTACT_SYSTEMS.has(v.system) ? `${v.system}|${v.value}` : v.value;
      }
      if (typeof v.code === 'string') {
        return v.system ? `${String(v.system)}|${v.code}` : v.code;
      }
      return Array.isArray(v.coding) ? searchValue(kind, v.coding[0]) : undefined;
    default: {
      if (typeof v.family === 'string') {
        return v.family;
      }
      const leaf = JSON.stringify(v).match(/"(?:city|line|text|given|value)":\[?"([^"]+)"/);
      return leaf?.[1];
    }
  }
}

describe('the CapabilityStatement tells the truth', () => {
  const t = useTestApp();
  const admin = useSignIn(t);
  let cs: CapabilityStatement;
  let projectId: string;
  let start: string;
  const fixtures = new Map<string, Res>();

  const call = (method: string, url: string, payload?: unknown, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> =>
    t.app.inject({ method: method as 'GET', url, headers: { ...admin.headers, ...(payload !== undefined ? FHIR_JSON : {}), ...headers }, ...(payload !== undefined ? { payload: payload as object } : {}) });

  const build = (tag: string): Promise<Map<string, Res>> => createEveryType(t.app, admin.headers, projectId, tag);

  beforeAll(async () => {
    projectId = admin.project?.reference?.split('/')[1] as string;
    start = new Date(Date.now() - 1000).toISOString();
    cs = (await call('GET', '/fhir/R4/metadata')).json() as CapabilityStatement;
    for (const [type, resource] of await build('1')) {
      fixtures.set(type, resource);
    }
  });

  const declared = (): CapabilityStatementRestResource[] => cs.rest?.[0].resource ?? [];
  const fixture = (type: string): Res => {
    const found = fixtures.get(type);
    if (!found) {
      throw new Error(`the CapabilityStatement declares ${type}, for which this suite has no fixture: add one to build()`);
    }
    return found;
  };
  const found = (res: LightMyRequestResponse, id: string, mode = 'match'): boolean =>
    res.statusCode === 200 && ((res.json() as Bundle).entry ?? []).some((e) => e.resource?.id === id && (e.search?.mode ?? 'match') === mode);

  /** The query value of a declared search parameter for the fixture, or undefined when it has none. */
  const valueFor = (type: string, name: string, kind: string, resource: Res): string | undefined => {
    if (name === '_id') {
      return resource.id;
    }
    if (name === '_lastUpdated') {
      return `ge${resource.meta?.lastUpdated}`;
    }
    if (name === '_project') {
      return resource.meta?.project;
    }
    const expression = getSearchParameter(type, name)?.expression;
    if (!expression) {
      return undefined;
    }
    for (const value of evalFhirPath(expression, resource)) {
      const text = searchValue(kind, value);
      if (text) {
        return text;
      }
    }
    return undefined;
  };

  test('every declared interaction of every declared type works', async () => {
    const failures: string[] = [];
    const expect2xx = (what: string, res: LightMyRequestResponse, status?: number) => {
      if (status ? res.statusCode !== status : res.statusCode >= 300) {
        failures.push(`${what}: ${res.statusCode} ${res.body.slice(0, 200)}`);
      }
    };
    const second = await build('2');
    for (const entry of declared()) {
      const type = entry.type as string;
      const one = fixture(type);
      const other = second.get(type) as Res;
      const codes = (entry.interaction ?? []).map((i) => i.code as string);
      for (const code of codes) {
        switch (code) {
          case 'create':
            // Every fixture was made with POST /{type} and checked to answer 201 with a Location
            // (createEveryType); here the created resource must read back.
            expect2xx(`create ${type} (read back)`, await call('GET', `/fhir/R4/${type}/${other.id}/_history/1`), 200);
            break;
          case 'read':
            expect2xx(`read ${type}`, await call('GET', `/fhir/R4/${type}/${one.id}`), 200);
            break;
          case 'vread':
            expect2xx(`vread ${type}`, await call('GET', `/fhir/R4/${type}/${one.id}/_history/${one.meta?.versionId}`), 200);
            break;
          case 'update': {
            const current = (await call('GET', `/fhir/R4/${type}/${other.id}`)).json() as Res;
            const res = await call('PUT', `/fhir/R4/${type}/${other.id}`, { ...current, extension: [{ url: 'http://walk.example/updated', valueBoolean: true }] });
            expect2xx(`update ${type}`, res, 200);
            break;
          }
          case 'patch': {
            const patched = await t.app.inject({
              method: 'PATCH',
              url: `/fhir/R4/${type}/${other.id}`,
              headers: { ...admin.headers, 'content-type': 'application/json-patch+json' },
              payload: JSON.stringify([{ op: 'add', path: '/extension', value: [{ url: 'http://walk.example/patched', valueBoolean: true }] }]),
            });
            expect2xx(`patch ${type}`, patched, 200);
            break;
          }
          case 'history-instance': {
            const res = await call('GET', `/fhir/R4/${type}/${one.id}/_history`);
            expect2xx(`history-instance ${type}`, res, 200);
            if (((res.json() as Bundle).entry ?? []).length === 0) {
              failures.push(`history-instance ${type}: no entries`);
            }
            break;
          }
          case 'history-type': {
            const res = await call('GET', `/fhir/R4/${type}/_history?_since=${start}&_count=1000`);
            expect2xx(`history-type ${type}`, res, 200);
            if (!((res.json() as Bundle).entry ?? []).some((e) => e.resource?.id === one.id)) {
              failures.push(`history-type ${type}: ${type}/${one.id} missing`);
            }
            break;
          }
          case 'search-type':
            expect2xx(`search-type ${type}`, await call('GET', `/fhir/R4/${type}?_count=1`), 200);
            break;
          case 'delete':
            // Below, once every type's other interactions ran.
            break;
          default:
            failures.push(`${type}: the CapabilityStatement declares "${code}", which this suite does not know how to try`);
        }
      }
      if (entry.conditionalCreate === true) {
        const res = await call('POST', `/fhir/R4/${type}`, { resourceType: type }, { 'if-none-exist': `_id=${one.id}` });
        expect2xx(`conditional create ${type}`, res, 200);
      }
      if (entry.conditionalUpdate === true) {
        const current = (await call('GET', `/fhir/R4/${type}/${one.id}`)).json() as Res;
        expect2xx(`conditional update ${type}`, await call('PUT', `/fhir/R4/${type}?_id=${one.id}`, current), 200);
      }
      if (entry.conditionalRead && entry.conditionalRead !== 'not-supported') {
        const read = await call('GET', `/fhir/R4/${type}/${one.id}`);
        const header: Record<string, string> = entry.conditionalRead === 'modified-since' ? { 'if-modified-since': String(read.headers['last-modified']) } : { 'if-none-match': String(read.headers.etag) };
        expect2xx(`conditional read ${type}`, await call('GET', `/fhir/R4/${type}/${one.id}`, undefined, header), 304);
      }
    }
    // Deletes last, once every type's other interactions ran (deleting a User takes its memberships).
    for (const entry of declared().filter((r) => (r.interaction ?? []).some((i) => i.code === 'delete'))) {
      const type = entry.type as string;
      const other = second.get(type) as Res;
      expect2xx(`delete ${type}`, await call('DELETE', `/fhir/R4/${type}/${other.id}`), 200);
      const after = await call('GET', `/fhir/R4/${type}/${other.id}`);
      if (after.statusCode !== 410) {
        failures.push(`delete ${type}: a read after the delete answered ${after.statusCode}`);
      }
    }
    expect(failures).toEqual([]);
  });

  test('every declared search parameter finds the resource built for it', async () => {
    const failures: string[] = [];
    for (const entry of declared()) {
      const type = entry.type as string;
      const one = fixture(type);
      for (const param of entry.searchParam ?? []) {
        const value = valueFor(type, param.name as string, param.type as string, one);
        if (value === undefined) {
          // A parameter this suite's fixture has no value for: it must at least be understood.
          const res = await call('GET', `/fhir/R4/${type}?${param.name}:missing=false&_count=1`);
          if (res.statusCode !== 200) {
            failures.push(`${type}?${param.name}:missing=false: ${res.statusCode} ${res.body.slice(0, 200)}`);
          }
          continue;
        }
        const res = await call('GET', `/fhir/R4/${type}?${param.name}=${encodeURIComponent(value)}&_count=1000`);
        if (!found(res, one.id)) {
          failures.push(`${type}?${param.name}=${value}: ${res.statusCode}, ${type}/${one.id} not found ${res.statusCode !== 200 ? res.body.slice(0, 200) : ''}`);
        }
      }
    }
    expect(failures).toEqual([]);
  });

  test('every declared _include and _revinclude brings the resource it points at', async () => {
    const failures: string[] = [];
    for (const entry of declared()) {
      const type = entry.type as string;
      const one = fixture(type);
      for (const include of entry.searchInclude ?? []) {
        const [, code] = include.split(':');
        const target = valueFor(type, code, 'reference', one);
        const res = await call('GET', `/fhir/R4/${type}?_id=${one.id}&_include=${include}`);
        if (res.statusCode !== 200 || (target && !found(res, target.split('/')[1], 'include'))) {
          failures.push(`${type} _include=${include}: ${res.statusCode}, ${target ?? 'nothing'} not included`);
        }
      }
      for (const revInclude of entry.searchRevInclude ?? []) {
        const [source, code] = revInclude.split(':');
        const from = fixtures.get(source);
        const pointsHere = from && valueFor(source, code, 'reference', from) === `${type}/${one.id}`;
        const res = await call('GET', `/fhir/R4/${type}?_id=${one.id}&_revinclude=${revInclude}`);
        if (res.statusCode !== 200 || (pointsHere && !found(res, (from as Res).id, 'include'))) {
          failures.push(`${type} _revinclude=${revInclude}: ${res.statusCode}${pointsHere ? `, ${source}/${from?.id} not included` : ''}`);
        }
      }
    }
    expect(failures).toEqual([]);
  });

  test('every declared operation answers at its route, and its OperationDefinition is published', async () => {
    const failures: string[] = [];
    const definitions = ((await call('GET', '/fhir/R4/OperationDefinition')).json() as Bundle<OperationDefinition>).entry?.map((e) => e.resource as OperationDefinition) ?? [];
    const operations = [...declared().flatMap((r) => (r.operation ?? []).map((op) => ({ type: r.type as string, op }))), ...(cs.rest?.[0].operation ?? []).map((op) => ({ type: '', op }))];
    expect(operations.length).toBeGreaterThan(0);
    for (const { type, op } of operations) {
      const definition = definitions.find((d) => d.url === op.definition);
      if (!definition) {
        failures.push(`${type} $${op.name}: no OperationDefinition ${op.definition} is published`);
        continue;
      }
      const base = type ? `/fhir/R4/${type}` : '/fhir/R4';
      const url = type && definition.instance && !definition.type ? `${base}/${fixture(type).id}/$${definition.code}` : `${base}/$${definition.code}`;
      let res: LightMyRequestResponse;
      if (definition.code === 'validate') {
        const one = fixture(type);
        res = await call('POST', url, { ...one, id: undefined, meta: undefined });
        if (res.statusCode !== 200 || (res.json() as OperationOutcome).issue?.[0].severity !== 'information') {
          failures.push(`${type} $validate: ${res.statusCode} ${res.body.slice(0, 300)}`);
        }
      } else if (definition.code === 'invite') {
        res = await call('POST', `/fhir/R4/Project/${projectId}/$invite`, { resourceType: 'Practitioner', firstName: 'Walk', lastName: 'Invitee', email: uniqueEmail('walk-invitee'), sendEmail: false });
        if (res.statusCode !== 201) {
          failures.push(`$invite: ${res.statusCode} ${res.body.slice(0, 300)}`);
        }
      } else {
        // An operation this suite has no call for: its route must exist (an empty call is refused, not 404/405).
        res = await call('POST', url, { resourceType: 'Parameters' });
        if (res.statusCode === 404 || res.statusCode === 405 || res.statusCode >= 500) {
          failures.push(`${type} $${definition.code}: ${res.statusCode} at ${url}`);
        }
      }
    }
    expect(failures).toEqual([]);
  });

  test('system level: every declared interaction and search parameter works', async () => {
    const failures: string[] = [];
    const patient = fixture('Patient');
    const rest = cs.rest?.[0];
    for (const code of (rest?.interaction ?? []).map((i) => i.code as string)) {
      let ok = false;
      if (code === 'search-system') {
        ok = found(await call('GET', `/fhir/R4?_type=Patient,Practitioner&_id=${patient.id}`), patient.id);
      } else if (code === 'history-system') {
        const res = await call('GET', `/fhir/R4/_history?_since=${start}&_count=1000`);
        ok = res.statusCode === 200 && ((res.json() as Bundle).entry ?? []).some((e) => e.resource?.id === patient.id);
      } else if (code === 'transaction' || code === 'batch') {
        const res = await call('POST', '/fhir/R4', {
          resourceType: 'Bundle',
          type: code,
          entry: [{ fullUrl: 'urn:uuid:6b0ac3a4-9f0e-4f51-9d0f-0c3e4b9a1e01', resource: { resourceType: 'Patient', name: [{ family: `Walk${code}` }] }, request: { method: 'POST', url: 'Patient' } }],
        });
        const body = res.json() as Bundle;
        ok = res.statusCode === 200 && body.type === `${code}-response` && String(body.entry?.[0].response?.status).startsWith('201');
      } else {
        failures.push(`the CapabilityStatement declares the system interaction "${code}", which this suite does not know how to try`);
        continue;
      }
      if (!ok) {
        failures.push(`system ${code} did not work`);
      }
    }
    for (const param of rest?.searchParam ?? []) {
      const name = param.name as string;
      const value = name === '_type' ? 'Patient' : valueFor('Patient', name, param.type as string, patient);
      const res = await call('GET', `/fhir/R4?_type=Patient&${name === '_type' ? '' : `${name}=${encodeURIComponent(value ?? '')}&`}_id=${patient.id}`);
      if (!found(res, patient.id)) {
        failures.push(`system search ${name}: ${res.statusCode} ${res.body.slice(0, 200)}`);
      }
    }
    for (const format of cs.format ?? []) {
      const res = await call('GET', `/fhir/R4/Patient/${patient.id}?_format=${encodeURIComponent(format)}`);
      if (res.statusCode !== 200) {
        failures.push(`_format=${format}: ${res.statusCode}`);
      }
    }
    expect(failures).toEqual([]);
  });

  test('nothing works that is not declared', async () => {
    const failures: string[] = [];
    const refused = (what: string, res: LightMyRequestResponse, statuses: number[]) => {
      if (!statuses.includes(res.statusCode)) {
        failures.push(`${what}: ${res.statusCode} (expected ${statuses.join(' or ')})`);
      }
    };
    const declaredTypes = new Set(declared().map((r) => r.type as string));
    for (const entry of declared()) {
      const type = entry.type as string;
      const one = fixture(type);
      const codes = new Set((entry.interaction ?? []).map((i) => i.code as string));
      const tries: Record<string, () => Promise<LightMyRequestResponse>> = {
        read: () => call('GET', `/fhir/R4/${type}/${one.id}`),
        vread: () => call('GET', `/fhir/R4/${type}/${one.id}/_history/1`),
        update: () => call('PUT', `/fhir/R4/${type}/${one.id}`, one),
        patch: () => t.app.inject({ method: 'PATCH', url: `/fhir/R4/${type}/${one.id}`, headers: { ...admin.headers, 'content-type': 'application/json-patch+json' }, payload: '[]' }),
        delete: () => call('DELETE', `/fhir/R4/${type}/${one.id}`),
        'history-instance': () => call('GET', `/fhir/R4/${type}/${one.id}/_history`),
        'history-type': () => call('GET', `/fhir/R4/${type}/_history`),
        create: () => call('POST', `/fhir/R4/${type}`, { resourceType: type }),
        'search-type': () => call('GET', `/fhir/R4/${type}`),
      };
      for (const code of R4_TYPE_INTERACTIONS.filter((c) => !codes.has(c))) {
        refused(`undeclared ${code} on ${type}`, await tries[code](), [405]);
      }
      if (entry.conditionalUpdate !== true) {
        refused(`undeclared conditional update of ${type}`, await call('PUT', `/fhir/R4/${type}?_id=${one.id}`, one), [405]);
      }
      if (!entry.conditionalDelete || entry.conditionalDelete === 'not-supported') {
        refused(`undeclared conditional delete of ${type}`, await call('DELETE', `/fhir/R4/${type}?_id=${one.id}`), [405]);
      }
      if (entry.updateCreate !== true) {
        // A type without update refuses the method itself (405); one with update, the unknown id (404).
        refused(`undeclared update-as-create of ${type}`, await call('PUT', `/fhir/R4/${type}/walk-new-id`, { ...one, id: 'walk-new-id', meta: undefined }), [codes.has('update') ? 404 : 405]);
      }
      const params = new Set((entry.searchParam ?? []).map((p) => p.name as string));
      for (const code of Object.keys(getSearchParameters(type) ?? {}).filter((c) => !params.has(c) && !c.startsWith('_'))) {
        refused(`undeclared search parameter ${type}?${code}`, await call('GET', `/fhir/R4/${type}?${code}=x`), [400]);
      }
      const ops = new Set((entry.operation ?? []).map((o) => o.name));
      for (const op of ['everything', 'meta', 'expunge', 'graph'].filter((o) => !ops.has(o))) {
        refused(`undeclared $${op} on ${type}`, await call('POST', `/fhir/R4/${type}/${one.id}/$${op}`, { resourceType: 'Parameters' }), [404]);
        refused(`undeclared GET $${op} on ${type}`, await call('GET', `/fhir/R4/${type}/$${op}`), [404]);
      }
    }
    for (const type of ['Observation', 'Organization', 'Encounter', 'Bot', 'Login'].filter((ty) => !declaredTypes.has(ty))) {
      refused(`undeclared type ${type} (search)`, await call('GET', `/fhir/R4/${type}`), [404]);
      refused(`undeclared type ${type} (create)`, await call('POST', `/fhir/R4/${type}`, { resourceType: type }), [404]);
    }
    const system = new Set((cs.rest?.[0].interaction ?? []).map((i) => i.code as string));
    for (const code of R4_SYSTEM_INTERACTIONS.filter((c) => !system.has(c))) {
      const res =
        code === 'search-system'
          ? await call('GET', '/fhir/R4?_type=Patient')
          : code === 'history-system'
            ? await call('GET', '/fhir/R4/_history')
            : await call('POST', '/fhir/R4', { resourceType: 'Bundle', type: code, entry: [{ resource: { resourceType: 'Patient' }, request: { method: 'POST', url: 'Patient' } }] });
      refused(`undeclared system ${code}`, res, [404, 405]);
    }
    for (const format of ['xml', 'application/fhir+xml', 'ttl'].filter((f) => !(cs.format ?? []).includes(f))) {
      refused(`undeclared _format=${format}`, await call('GET', `/fhir/R4/Patient/${fixture('Patient').id}?_format=${encodeURIComponent(format)}`), [406]);
    }
    expect(failures).toEqual([]);
  });
});

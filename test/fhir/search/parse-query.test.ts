import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Bundle, SearchParameter } from '@medplum/fhirtypes';
import { findProfilesDir, loadDefinitions } from '../../../src/fhir/definitions';
import { buildSearchFilter } from '../../../src/fhir/search/filter-builder';
import { parseSearchQuery, queryPairs } from '../../../src/fhir/search/parse-query';

beforeAll(() => {
  loadDefinitions(findProfilesDir());
});

function error(fn: () => unknown): { statusCode?: number; message: string; expression?: string[] } {
  try {
    fn();
  } catch (err) {
    const e = err as { statusCode?: number; message: string; issues?: { expression?: string[] }[] };
    return { statusCode: e.statusCode, message: e.message, expression: e.issues?.[0]?.expression };
  }
  throw new Error('expected an error');
}

const parse = (type: string, query: Record<string, unknown>) => parseSearchQuery(type, queryPairs(query));
const filterOf = (type: string, query: Record<string, unknown>) => buildSearchFilter(type, parse(type, query).request.filters);

describe('queryPairs', () => {
  test('repeated parameters keep every value', () => {
    expect(queryPairs({ name: ['a', 'b'], _count: '5' })).toEqual([
      ['name', 'a'],
      ['name', 'b'],
      ['_count', '5'],
    ]);
  });

  test('objects and numbers are refused: no MongoDB operator can come in through a value', () => {
    expect(error(() => queryPairs({ email: { $ne: 'x' } }))).toMatchObject({ statusCode: 400, expression: ['email'] });
    expect(error(() => queryPairs({ name: ['a', { $gt: '' }] }))).toMatchObject({ statusCode: 400, expression: ['name'] });
    expect(error(() => queryPairs({ _count: 5 }))).toMatchObject({ statusCode: 400 });
  });
});

describe('parseSearchQuery', () => {
  test('control parameters', () => {
    const { request, params } = parse('Patient', { _count: '5', _offset: '10', _sort: '-birthdate,name', _total: 'accurate', name: 'x' });
    expect(request).toMatchObject({ count: 5, offset: 10, total: 'accurate', sortRules: [{ code: 'birthdate', descending: true }, { code: 'name', descending: false }] });
    expect(params).toEqual([
      ['_sort', '-birthdate,name'],
      ['_total', 'accurate'],
      ['name', 'x'],
    ]);
    expect(parse('Patient', {}).request).toMatchObject({ count: 20, offset: 0 });
  });

  test('modifiers become operators and date prefixes are split off', () => {
    expect(parse('Patient', { 'name:exact': 'Ann', 'family:contains': 'ill', birthdate: 'ge1980', 'gender:not': 'male', 'email:missing': 'true' }).request.filters).toEqual([
      { code: 'name', operator: 'exact', value: 'Ann' },
      { code: 'family', operator: 'contains', value: 'ill' },
      { code: 'birthdate', operator: 'ge', value: '1980' },
      { code: 'gender', operator: 'not', value: 'male' },
      { code: 'email', operator: 'missing', value: 'true' },
    ]);
  });

  test('includes', () => {
    expect(parse('ProjectMembership', { _include: 'ProjectMembership:profile' }).request.include).toEqual([{ resourceType: 'ProjectMembership', searchParam: 'profile', targetType: undefined }]);
    expect(parse('Practitioner', { _revinclude: 'ProjectMembership:profile' }).request.revInclude).toEqual([{ resourceType: 'ProjectMembership', searchParam: 'profile', targetType: undefined }]);
    expect(error(() => parse('Practitioner', { _include: 'nonsense' }))).toMatchObject({ statusCode: 400, expression: ['_include'] });
    expect(error(() => parse('Practitioner', { '_include:iterate': 'ProjectMembership:profile' }))).toMatchObject({ statusCode: 400, expression: ['_include'] });
  });

  test.each([
    [{ nickname: 'x' }, 'nickname'],
    [{ 'email[$ne]': 'x' }, 'email[$ne]'],
    [{ 'organization.name': 'x' }, 'organization.name'],
    [{ _count: '1001' }, '_count'],
    [{ _count: '-1' }, '_count'],
    [{ _count: ['1', '2'] }, '_count'],
    [{ _offset: 'x' }, '_offset'],
    [{ _sort: 'nickname' }, '_sort'],
    [{ _total: 'maybe' }, '_total'],
    [{ _elements: 'name,$where' }, '_elements'],
    [{ _summary: 'true' }, '_summary'],
  ])('%j is refused naming %s', (query, expression) => {
    expect(error(() => parse('Patient', query))).toMatchObject({ statusCode: 400, expression: [expression] });
  });
});

describe('buildSearchFilter', () => {
  test('string: prefix by default, :exact, :contains, comma is OR; regex characters are escaped', () => {
    expect(filterOf('Patient', { name: 'Quillf' })).toEqual({ 'sp.name.n': { $regex: '^quillf' } });
    expect(filterOf('Patient', { 'name:exact': 'Hëlga' })).toEqual({ 'sp.name.n': 'helga', 'sp.name.v': 'Hëlga' });
    expect(filterOf('Patient', { 'name:contains': 'a.*' })).toEqual({ 'sp.name.n': { $regex: 'a\\.\\*' } });
    expect(filterOf('Patient', { name: 'a,b' })).toEqual({ $or: [{ 'sp.name.n': { $regex: '^a' } }, { 'sp.name.n': { $regex: '^b' } }] });
  });

  test('token: code, system|code, |code, system|, :not', () => {
    expect(filterOf('Patient', { identifier: 'urn:mrn|MRN-7' })).toEqual({ 'sp.identifier': { $in: ['urn:mrn|MRN-7', 'urn:mrn|mrn-7'] } });
    expect(filterOf('Patient', { gender: 'female' })).toEqual({ 'sp.gender': 'female' });
    expect(filterOf('Patient', { identifier: '|loose' })).toEqual({ 'sp.identifier': '|loose' });
    expect(filterOf('Patient', { identifier: 'urn:mrn|' })).toEqual({ 'sp.identifier': { $regex: '^urn:mrn\\|' } });
    expect(filterOf('Patient', { 'gender:not': 'male' })).toEqual({ $nor: [{ 'sp.gender': 'male' }] });
    expect(error(() => filterOf('Patient', { active: 'yes' }))).toMatchObject({ statusCode: 400, expression: ['active'] });
  });

  test('reference: Type/id, or a bare id for each target type', () => {
    expect(filterOf('ProjectMembership', { profile: 'Practitioner/1' })).toEqual({ 'sp.profile': 'Practitioner/1' });
    expect(filterOf('ProjectMembership', { project: 'p1' })).toEqual({ 'sp.project': 'Project/p1' });
    expect(filterOf('ProjectMembership', { 'profile:Patient': 'x' })).toEqual({ 'sp.profile': 'Patient/x' });
    expect(error(() => filterOf('ProjectMembership', { project: 'User/1' }))).toMatchObject({ statusCode: 400, expression: ['project'] });
    expect(error(() => filterOf('ProjectMembership', { project: '{"$gt":""}' }))).toMatchObject({ statusCode: 400, expression: ['project'] });
  });

  test('date: prefixes on ranges, and on the lastUpdated instant', () => {
    const y1980 = { s: new Date('1980-01-01T00:00:00Z'), e: new Date('1981-01-01T00:00:00Z') };
    expect(filterOf('Patient', { birthdate: '1980' })).toEqual({ 'sp.birthdate': { $elemMatch: { s: { $gte: y1980.s }, e: { $lte: y1980.e } } } });
    expect(filterOf('Patient', { birthdate: 'lt1980' })).toEqual({ 'sp.birthdate': { $elemMatch: { s: { $lt: y1980.s } } } });
    expect(filterOf('Patient', { birthdate: 'sa1980' })).toEqual({ 'sp.birthdate': { $elemMatch: { s: { $gte: y1980.e } } } });
    expect(filterOf('Patient', { _lastUpdated: 'gt1980' })).toEqual({ lastUpdated: { $gte: y1980.e } });
    expect(filterOf('Patient', { _lastUpdated: 'le1980' })).toEqual({ lastUpdated: { $lt: y1980.e } });
    expect(error(() => filterOf('Patient', { birthdate: 'ap1980' }))).toMatchObject({ statusCode: 400, expression: ['birthdate'] });
    expect(error(() => filterOf('Patient', { birthdate: 'last year' }))).toMatchObject({ statusCode: 400, expression: ['birthdate'] });
  });

  test('an expiring code (invite-status): decided at the time of the search, refused without one', () => {
    const now = new Date('2026-01-15T12:00:00Z');
    const timed = (query: Record<string, unknown>) => buildSearchFilter('ProjectMembership', parse('ProjectMembership', query).request.filters, now);
    const passed = { 'sp.invite-status:expires': { $lte: now } };
    expect(timed({ 'invite-status': 'expired' })).toEqual({ 'sp.invite-status': 'pending', ...passed });
    expect(timed({ 'invite-status': 'pending' })).toEqual({ 'sp.invite-status': 'pending', $nor: [passed] });
    expect(timed({ 'invite-status': 'accepted' })).toEqual({ 'sp.invite-status': 'accepted' });
    expect(timed({ 'invite-status:not': 'expired' })).toEqual({ $nor: [{ 'sp.invite-status': 'pending', ...passed }] });
    // An access policy's criteria have no time: refused (the policy then fails closed), never guessed.
    expect(error(() => filterOf('ProjectMembership', { 'invite-status': 'expired' }))).toMatchObject({ statusCode: 400, expression: ['invite-status'] });
  });

  test('_id and missing values', () => {
    expect(filterOf('Patient', { _id: 'a,b' })).toEqual({ _id: { $in: ['a', 'b'] } });
    expect(error(() => filterOf('Patient', { _id: 'a b' }))).toMatchObject({ statusCode: 400, expression: ['_id'] });
    expect(error(() => filterOf('Patient', { name: '' }))).toMatchObject({ statusCode: 400, expression: ['name'] });
    expect(filterOf('Patient', { 'email:missing': 'true' })).toEqual({ 'sp.email': { $exists: false } });
  });
});

describe('fhir-profiles/search-parameters.json', () => {
  test('holds our copies of the Medplum-style definitions', () => {
    const bundle = JSON.parse(readFileSync(join(findProfilesDir(), 'search-parameters.json'), 'utf8')) as Bundle<SearchParameter>;
    expect(bundle.entry?.map((e) => e.resource?.id).sort()).toEqual(
      ['AccessPolicy-name', 'AuditEvent-agent', 'AuditEvent-entity', 'ProjectMembership-access-policy', 'ProjectMembership-invite-status', 'ProjectMembership-profile', 'ProjectMembership-project', 'ProjectMembership-user', 'User-email', 'User-project'].sort(),
    );
  });
});

import type { Bundle, Patient, ProjectMembership, User } from '@medplum/fhirtypes';
import { TestClock } from '../helpers/app';
import { create } from '../helpers/fixtures';
import { useSignIn, useTestApp } from '../helpers/suite';
import { FHIR_JSON, issues, post } from '../helpers/fhir';

describe('FHIR history', () => {
  let projectId: string;
  const clock = new TestClock(new Date('2026-02-01T08:00:00.000Z'));
  const t = useTestApp({ clock });
  const admin = useSignIn(t);

  beforeAll(async () => {
    projectId = admin.project?.reference?.split('/')[1] as string;
  });

  const get = (url: string) => t.app.inject({ method: 'GET', url: url.replace('http://localhost:8103', ''), headers: admin.headers });
  /** A membership of a new (server-scoped, email-less) User, with the admin's profile: its references must exist. */
  const membership = async (name: string): Promise<ProjectMembership> => {
    const user = await create<User>(t.app, { resourceType: 'User', firstName: name, lastName: 'Peer' });
    return {
      resourceType: 'ProjectMembership',
      project: { reference: `Project/${projectId}` },
      user: { reference: `User/${user.id}` },
      profile: { reference: admin.profile?.reference as string },
    };
  };

  test('instance history lists every version newest first, with the deletion, and pages', async () => {
    clock.advance(1000);
    const created = await post<Patient>(t.app, admin.headers, { resourceType: 'Patient', name: [{ family: 'V1' }] });
    clock.advance(1000);
    await t.app.inject({ method: 'PUT', url: `/fhir/R4/Patient/${created.id}`, headers: { ...admin.headers, ...FHIR_JSON }, payload: { ...created, name: [{ family: 'V2' }] } });
    clock.advance(1000);
    await t.app.inject({ method: 'DELETE', url: `/fhir/R4/Patient/${created.id}`, headers: admin.headers });

    const res = await get(`/fhir/R4/Patient/${created.id}/_history`);
    expect(res.statusCode).toBe(200);
    const bundle = res.json() as Bundle<Patient>;
    expect(bundle.type).toBe('history');
    expect(bundle.entry?.map((e) => [e.request?.method, e.response?.etag, e.resource?.name?.[0].family])).toEqual([
      ['DELETE', 'W/"3"', undefined],
      ['PUT', 'W/"2"', 'V2'],
      ['POST', 'W/"1"', 'V1'],
    ]);
    expect(bundle.entry?.[0].fullUrl).toBe(`http://localhost:8103/fhir/R4/Patient/${created.id}`);

    const first = (await get(`/fhir/R4/Patient/${created.id}/_history?_count=2`)).json() as Bundle;
    expect(first.entry).toHaveLength(2);
    const next = first.link?.find((l) => l.relation === 'next')?.url as string;
    const second = (await get(next)).json() as Bundle;
    expect(second.entry?.map((e) => e.response?.etag)).toEqual(['W/"1"']);
    expect(second.link?.find((l) => l.relation === 'next')).toBeUndefined();

    expect((await get('/fhir/R4/Patient/nobody/_history')).statusCode).toBe(404);
  });

  test('type history with _since pages through versions sharing one timestamp without skipping or repeating', async () => {
    const peers = [];
    for (let i = 0; i < 7; i++) {
      peers.push(await membership(`peer-${i}`));
    }
    clock.advance(60_000);
    const since = clock.now().toISOString();
    const written: string[] = [];
    for (const peer of peers) {
      const m = await post(t.app, admin.headers, peer);
      written.push(`${m.id}/1`);
    }
    // All seven share the same lastUpdated: the clock did not move.
    const seen: string[] = [];
    let url: string | undefined = `/fhir/R4/ProjectMembership/_history?_since=${since}&_count=3`;
    let pages = 0;
    while (url) {
      const res = await get(url);
      expect(res.statusCode).toBe(200);
      const bundle = res.json() as Bundle<ProjectMembership>;
      for (const e of bundle.entry ?? []) {
        seen.push(`${e.resource?.id}/${e.resource?.meta?.versionId}`);
        expect(e.response?.lastModified).toBe(since);
      }
      url = bundle.link?.find((l) => l.relation === 'next')?.url;
      pages += 1;
    }
    expect(pages).toBe(3);
    expect(seen).toHaveLength(7);
    expect([...seen].sort()).toEqual([...written].sort());
  });

  test('_since is inclusive and excludes older versions', async () => {
    const [olderPeer, newerPeer] = [await membership('older'), await membership('newer')];
    clock.advance(60_000);
    const older = await post(t.app, admin.headers, olderPeer);
    clock.advance(60_000);
    const at = clock.now().toISOString();
    const newer = await post(t.app, admin.headers, newerPeer);
    const res = await get(`/fhir/R4/ProjectMembership/_history?_since=${at}`);
    const idsSeen = ((res.json() as Bundle).entry ?? []).map((e) => e.resource?.id);
    expect(idsSeen).toEqual([newer.id]);
    expect(idsSeen).not.toContain(older.id);
  });

  test('malformed history parameters are 400 naming them', async () => {
    for (const [query, expression] of [
      ['_since=yesterday', '_since'],
      ['_count=0', '_count'],
      ['_cursor=bogus', '_cursor'],
      ['_at=2020', '_at'],
    ]) {
      const res = await get(`/fhir/R4/Patient/_history?${query}`);
      expect({ query, status: res.statusCode }).toEqual({ query, status: 400 });
      expect(issues(res)[0].expression).toEqual([expression]);
    }
  });
});

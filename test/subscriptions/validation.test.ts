import type { Subscription } from '@medplum/fhirtypes';
import { snapshotDatabase } from '../helpers/app';
import { make, makeProject, signedInMember } from '../helpers/access';
import { FHIR_JSON, issues } from '../helpers/fhir';
import { useTestApp } from '../helpers/suite';
import { SUBSCRIPTION_SECRET_URL } from '../../src/subscriptions/subscription-rules';
import type { SignedIn } from '../helpers/auth';

/**
 * A Subscription this server cannot deliver safely is refused with an OperationOutcome naming
 * the element, and nothing at all is written. Endpoints follow the SSRF rules (127.0.0.1 is the
 * only listed host here).
 */
describe('rest-hook subscriptions: what is refused', () => {
  const t = useTestApp({ env: { SUBSCRIPTION_ALLOWED_HOSTS: '127.0.0.1', SUBSCRIPTION_POLL_MS: '0' } });
  let admin: SignedIn;
  let member: SignedIn;
  let hider: SignedIn;

  beforeAll(async () => {
    const project = await makeProject(t.app, 'Validation');
    const doctor = await make(t.app, { resourceType: 'Practitioner', name: [{ family: 'Who' }] }, project);
    admin = (await signedInMember(t.app, project, { key: 'sub-admin', profile: `Practitioner/${doctor.id}`, admin: true })).session;
    member = (await signedInMember(t.app, project, { key: 'sub-member', profile: `Practitioner/${doctor.id}` })).session;
    hider = (await signedInMember(t.app, project, { key: 'sub-hider', profile: `Practitioner/${doctor.id}`, admin: true, policy: [{ resourceType: 'Patient', hiddenFields: ['birthDate'] }] })).session;
  });

  const valid = (): Subscription => ({
    resourceType: 'Subscription',
    status: 'active',
    reason: 'peer',
    criteria: 'ProjectMembership?active=true',
    channel: { type: 'rest-hook', endpoint: 'http://127.0.0.1:9/hook', payload: 'application/fhir+json' },
  });
  const create = (who: SignedIn, body: unknown) => t.app.inject({ method: 'POST', url: '/fhir/R4/Subscription', headers: { ...who.headers, ...FHIR_JSON }, payload: body as object });

  type Case = [string, (s: Subscription) => Subscription, string, number?];
  const channel = (s: Subscription, fields: Partial<Subscription['channel']>): Subscription => ({ ...s, channel: { ...s.channel, ...fields } });
  const cases: Case[] = [
    ['a websocket channel', (s) => channel(s, { type: 'websocket' }), 'Subscription.channel.type'],
    ['an email channel', (s) => channel(s, { type: 'email' }), 'Subscription.channel.type'],
    ['criteria on a type this server does not store', (s) => ({ ...s, criteria: 'Observation?code=1234' }), 'Subscription.criteria'],
    ['criteria with an unknown parameter', (s) => ({ ...s, criteria: 'Patient?favourite-colour=blue' }), 'Subscription.criteria'],
    ['criteria with a malformed date', (s) => ({ ...s, criteria: 'Patient?birthdate=yesterday' }), 'Subscription.criteria'],
    ['criteria that page or include', (s) => ({ ...s, criteria: 'Patient?_count=5' }), 'Subscription.criteria'],
    ['criteria on a field the writer cannot see', (s) => ({ ...s, criteria: 'Patient?birthdate=1990' }), 'Subscription.criteria'],
    ['no endpoint', (s) => channel(s, { endpoint: undefined }), 'Subscription.channel.endpoint'],
    ['plain http to a host not listed', (s) => channel(s, { endpoint: 'http://hooks.example.com/in' }), 'Subscription.channel.endpoint'],
    ['an ftp URL', (s) => channel(s, { endpoint: 'ftp://hooks.example.com/in' }), 'Subscription.channel.endpoint'],
    ['credentials in the URL', (s) => channel(s, { endpoint: 'https://bob:pw@hooks.example.com/in' }), 'Subscription.channel.endpoint'],
    ['a private address', (s) => channel(s, { endpoint: 'https://10.1.2.3/in' }), 'Subscription.channel.endpoint'],
    ['the cloud metadata address', (s) => channel(s, { endpoint: 'https://169.254.169.254/latest/meta-data' }), 'Subscription.channel.endpoint'],
    ['the metadata address in decimal', (s) => channel(s, { endpoint: 'https://2852039166/latest' }), 'Subscription.channel.endpoint'],
    ['the metadata address in hex', (s) => channel(s, { endpoint: 'https://0xa9.0xfe.0xa9.0xfe/latest' }), 'Subscription.channel.endpoint'],
    ['a loopback address in octal', (s) => channel(s, { endpoint: 'https://0177.0.0.2/in' }), 'Subscription.channel.endpoint'],
    ['an IPv4-mapped IPv6 loopback', (s) => channel(s, { endpoint: 'https://[::ffff:127.0.0.2]/in' }), 'Subscription.channel.endpoint'],
    ['IPv6 loopback', (s) => channel(s, { endpoint: 'https://[::1]/in' }), 'Subscription.channel.endpoint'],
    ['an IPv6 unique-local address', (s) => channel(s, { endpoint: 'https://[fd00::1]/in' }), 'Subscription.channel.endpoint'],
    ['a payload that is not FHIR JSON', (s) => channel(s, { payload: 'text/plain' }), 'Subscription.channel.payload'],
    ['a header the server sets', (s) => channel(s, { header: ['X-Signature: forged'] }), 'Subscription.channel.header[0]'],
    ['a header without a colon', (s) => channel(s, { header: ['Authorization Bearer x'] }), 'Subscription.channel.header[0]'],
    ['a header that would split the request', (s) => channel(s, { header: ['X-Ok: fine', 'X-Bad: a\r\nInjected: yes'] }), 'Subscription.channel.header[1]'],
    ['a short secret', (s) => ({ ...s, extension: [{ url: SUBSCRIPTION_SECRET_URL, valueString: 'short' }] }), `Subscription.extension('${SUBSCRIPTION_SECRET_URL}')`],
  ];

  test.each(cases)('%s is refused naming the element, and nothing is written', async (_name, change, expression, status = 400) => {
    const before = await snapshotDatabase(t.app);
    const res = await create(hider, change(valid()));
    expect(res.statusCode).toBe(status);
    const [problem] = issues(res);
    expect(problem.expression).toEqual([expression]);
    expect(problem.diagnostics?.length).toBeGreaterThan(10);
    expect(await snapshotDatabase(t.app)).toEqual(before);
  });

  test('a member who is not a project administrator cannot create one (403), nothing written', async () => {
    const before = await snapshotDatabase(t.app);
    const res = await create(member, valid());
    expect(res.statusCode).toBe(403);
    expect(await snapshotDatabase(t.app)).toEqual(before);
  });

  test('an update that breaks the rules is refused and the stored version stays', async () => {
    const created = await create(admin, valid());
    expect(created.statusCode).toBe(201);
    const sub = created.json() as Subscription & { id: string };
    const before = await snapshotDatabase(t.app);
    const res = await t.app.inject({ method: 'PUT', url: `/fhir/R4/Subscription/${sub.id}`, headers: { ...admin.headers, ...FHIR_JSON }, payload: channel(sub, { endpoint: 'https://192.168.1.1/in' }) });
    expect(res.statusCode).toBe(400);
    expect(issues(res)[0].expression).toEqual(['Subscription.channel.endpoint']);
    expect(await snapshotDatabase(t.app)).toEqual(before);
  });

  test('a valid one is stored and listed in the CapabilityStatement', async () => {
    expect((await create(admin, { ...valid(), channel: { type: 'rest-hook', endpoint: 'https://93.184.215.14/in' } })).statusCode).toBe(201);
    const metadata = (await t.app.inject({ method: 'GET', url: '/fhir/R4/metadata' })).json() as { rest: { resource: { type: string }[] }[] };
    expect(metadata.rest[0].resource.map((r) => r.type)).toContain('Subscription');
  });
});

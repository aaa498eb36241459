import type { ClientApplication } from '@medplum/fhirtypes';
import type { CommandStartedEvent } from 'mongodb';
import { readResource, updateResource } from '../../src/fhir/repository';
import { repoOf } from '../helpers/fixtures';
import { useSignIn, useTestApp } from '../helpers/suite';
import { createProject, form } from '../helpers/auth';

/**
 * client_credentials must not tell an unknown client id from a wrong secret (nor from a client
 * that is switched off or deleted): the same status, headers and body, and the same database work.
 */
/** The test database's URI with the driver's command monitoring on (to see what a request reads). */
function monitoredUri(): string {
  const uri = process.env.MONGODB_URI ?? (process.env.TEST_MONGODB_URI as string);
  const separator = uri.includes('?') ? '&' : /\/\/[^/]+$/.test(uri) ? '/?' : '?';
  return `${uri}${separator}monitorCommands=true`;
}

describe('client_credentials answers every refused client alike', () => {
  // The mail and subscription dispatchers are off: their polling would show up among the commands
  // a request issues.
  const t = useTestApp(() => ({ env: { MONGODB_URI: monitoredUri(), OUTBOX_POLL_MS: '0', SUBSCRIPTION_POLL_MS: '0' } }));
  const admin = useSignIn(t);
  const clients: Record<string, { id: string; secret: string }> = {};

  beforeAll(async () => {
    const projectId = (await createProject(t.app, 'Probe')).id;
    for (const name of ['good', 'off', 'gone']) {
      const res = await t.app.inject({ method: 'POST', url: `/admin/projects/${projectId}/client`, headers: admin.headers, payload: { name } });
      expect(res.statusCode).toBe(201);
      clients[name] = { id: res.json().id, secret: res.json().secret };
    }
    const repo = repoOf(t.app);
    const off = await readResource<ClientApplication>(repo, 'ClientApplication', clients.off.id);
    await updateResource(repo, { ...off, status: 'off' }, { skipValidation: true });
    expect((await t.app.inject({ method: 'DELETE', url: `/fhir/R4/ClientApplication/${clients.gone.id}`, headers: admin.headers })).statusCode).toBeLessThan(300);
  });

  const viaBody = (clientId: string, clientSecret: string) =>
    t.app.inject({ method: 'POST', url: '/oauth2/token', ...form({ grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret }) });
  const viaBasic = (clientId: string, clientSecret: string) =>
    t.app.inject({
      method: 'POST',
      url: '/oauth2/token',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}` },
      payload: 'grant_type=client_credentials',
    });

  const refused = () => [
    { name: 'unknown client id', id: 'no-such-client-id', secret: clients.good.secret },
    { name: 'wrong secret', id: clients.good.id, secret: 'a-wrong-secret' },
    { name: 'client switched off (right secret)', id: clients.off.id, secret: clients.off.secret },
    { name: 'deleted client (right secret)', id: clients.gone.id, secret: clients.gone.secret },
  ];

  test.each([
    ['form body', viaBody],
    ['HTTP Basic', viaBasic],
  ])('%s: same status, content type and body for every refusal', async (_how, send) => {
    expect((await send(clients.good.id, clients.good.secret)).statusCode).toBe(200);
    const answers = [];
    for (const probe of refused()) {
      const res = await send(probe.id, probe.secret);
      answers.push({ status: res.statusCode, type: res.headers['content-type'], body: res.body });
    }
    expect(answers[0]).toEqual({ status: 400, type: expect.stringContaining('application/json'), body: JSON.stringify({ error: 'invalid_request', error_description: 'Invalid client' }) });
    for (const answer of answers) {
      expect(answer).toEqual(answers[0]);
    }
  });

  test('an unknown client id costs the same database reads as a wrong secret', async () => {
    const client = t.app.ctx.database.client;
    const seen: string[] = [];
    const record = (event: CommandStartedEvent) => {
      if (event.databaseName === t.app.ctx.database.db.databaseName) {
        const collection = String(event.command[event.commandName]);
        seen.push(`${event.commandName}:${collection}`);
      }
    };
    client.on('commandStarted', record);
    try {
      const workOf = async (id: string, secret: string) => {
        seen.length = 0;
        expect((await viaBody(id, secret)).statusCode).toBe(400);
        return [...seen];
      };
      const wrongSecret = await workOf(clients.good.id, 'a-wrong-secret');
      const unknownId = await workOf('no-such-client-id', 'whatever');
      expect(wrongSecret).toContain('find:credentials');
      expect(unknownId).toEqual(wrongSecret);
    } finally {
      client.off('commandStarted', record);
    }
  });
});

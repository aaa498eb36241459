// A load of request sequences, in its own process like the autocannon CLI: `connections` workers,
// each repeating its flow for `seconds`; one flow (e.g. sign-in: password, then code exchange)
// counts as one request. Input: one JSON argument; output: an autocannon-like JSON result.
// Flows: signin (POST login then POST token with the code), refresh (each worker rotates its own
// refresh token), resend (round robin over pending invitations). `target` says which paths: the
// server's or the floor's.
import { performance } from 'node:perf_hooks';
import { createHash, randomBytes } from 'node:crypto';

const input = JSON.parse(process.argv[2]);
const { base, flow, seconds, connections } = input;
let non2xx = 0;
let errors = 0;
const latencies = [];

async function call(path, init) {
  const res = await fetch(`${base}${path}`, init);
  const text = await res.text();
  if (!res.ok) {
    non2xx++;
    if (non2xx < 3) {
      process.stderr.write(`${flow} ${path}: ${res.status} ${text.slice(0, 300)}\n`);
    }
    throw new Error('non-2xx');
  }
  return JSON.parse(text);
}
const json = (body) => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
const form = (body) => ({ method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(body).toString() });

let nextId = 0;
const flows = {
  async signin() {
    if (input.floor) {
      const { code } = await call('login', json({}));
      await call('code', json({ code }));
      return;
    }
    const verifier = randomBytes(32).toString('base64url');
    const challenge = createHash('sha256').update(verifier).digest('base64url');
    const login = await call('auth/login', json({ ...input.login, codeChallenge: challenge, codeChallengeMethod: 'S256', scope: 'openid' }));
    await call('oauth2/token', form({ grant_type: 'authorization_code', code: login.code, code_verifier: verifier }));
  },
  async refresh(state) {
    const answer = input.floor ? await call('refresh', json({ refresh_token: state.token })) : await call('oauth2/token', form({ grant_type: 'refresh_token', refresh_token: state.token }));
    state.token = answer.refresh_token;
  },
  async update(state) {
    if (input.floor) {
      await call(`update/${state.id}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{}' });
      return;
    }
    const body = JSON.stringify({ resourceType: 'Patient', id: state.id, meta: { project: input.project }, name: [{ given: ['Updated'], family: `Bench-${state.version}` }], gender: 'female' });
    const answer = await call(`fhir/R4/Patient/${state.id}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${input.token}`, 'content-type': 'application/fhir+json', 'if-match': `W/"${state.version}"` },
      body,
    });
    state.version = answer.meta.versionId;
  },
  async resend() {
    const id = input.ids[nextId++ % input.ids.length];
    await call(`fhir/R4/ProjectMembership/${id}/$resend-invite`, {
      method: 'POST',
      headers: { authorization: `Bearer ${input.token}`, 'content-type': 'application/fhir+json' },
      body: JSON.stringify({ resourceType: 'Parameters', parameter: [] }),
    });
  },
};

const start = performance.now();
const end = start + seconds * 1000;
const states = Array.from({ length: connections }, (_, i) => ({ token: input.tokens?.[i], id: input.ids?.[i], version: input.versions?.[i] }));
await Promise.all(
  states.map(async (state) => {
    while (performance.now() < end) {
      const t = performance.now();
      try {
        await flows[flow](state);
        latencies.push(performance.now() - t);
      } catch (err) {
        if (err.message !== 'non-2xx') {
          errors++;
        }
        if (flow === 'refresh') {
          break;
        }
      }
    }
  }),
);
const duration = (performance.now() - start) / 1000;
latencies.sort((a, b) => a - b);
const at = (q) => Math.round(latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0);
const total = latencies.length;
process.stdout.write(JSON.stringify({ requests: { total, average: total / duration }, duration, latency: { p50: at(0.5), p99: at(0.99) }, non2xx, errors, tokens: states.map((s) => s.token), versions: states.map((s) => s.version) }));

import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitUntil } from '../helpers/wait';

/**
 * The one-file server that `npm start` and the image run (scripts/bundle-server.js), built from
 * src/main.ts and started as a process of its own: every part that reads files beside its own
 * code, loads native code or is loaded late must still work from dist/ (the packages left outside
 * the bundle, the package's own folders found from the bundle's place, nodemailer at the first mail).
 */
const root = join(__dirname, '..', '..');
const outDir = join(root, 'dist', `bundle-test-${process.pid}`);
const ADMIN_EMAIL = 'bundle-admin@example.com';
const ADMIN_PASSWORD = 'bundle-password-correct-horse';

let server: ChildProcess | undefined;
let base = '';
let stdout = '';
let dataDir = '';
let exited: Promise<number | null>;

beforeAll(async () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { bundleServer } = require(join(root, 'scripts', 'bundle-server.js')) as { bundleServer: (entry: string, outfile: string) => Promise<string> };
  const bundle = await bundleServer(join(root, 'src', 'main.ts'), join(outDir, 'server.js'));
  dataDir = mkdtempSync(join(tmpdir(), 'fis-bundle-'));
  const env = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    MONGODB_URI: process.env.TEST_MONGODB_URI ?? '',
    MONGODB_DATABASE: `bundle_${process.pid}`,
    PORT: '0',
    HOST: '127.0.0.1',
    DATA_DIR: dataDir,
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    LOG_LEVEL: 'info',
    OUTBOX_POLL_MS: '50',
  };
  server = spawn(process.execPath, [bundle], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  server.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  exited = new Promise((resolve) => server?.on('exit', (code) => resolve(code)));
  const listening = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/;
  if (!(await waitUntil(() => listening.test(stdout) || server?.exitCode !== null, 30_000)) || !listening.test(stdout)) {
    throw new Error(`the bundled server did not start:\n${stdout}`);
  }
  base = (listening.exec(stdout) as RegExpExecArray)[1];
}, 60_000);

afterAll(async () => {
  if (server && server.exitCode === null && server.signalCode === null) {
    server.kill('SIGKILL');
  }
  rmSync(outDir, { recursive: true, force: true });
  rmSync(dataDir, { recursive: true, force: true });
});

test('answers health and the capability statement with the package version', async () => {
  expect((await fetch(`${base}/healthcheck`)).status).toBe(200);
  const metadata = await fetch(`${base}/fhir/R4/metadata`);
  expect(metadata.status).toBe(200);
  const statement = (await metadata.json()) as { resourceType: string; software?: { version?: string } };
  const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
  expect(statement.resourceType).toBe('CapabilityStatement');
  expect(statement.software?.version).toBe(version);
});

test('serves the API docs and the pages with their assets (files read from outside the bundle)', async () => {
  const docs = await fetch(`${base}/docs/json`);
  expect(docs.status).toBe(200);
  expect(((await docs.json()) as { paths: object }).paths).toHaveProperty(['/fhir/R4/Project/{id}/$invite']);
  const ui = await fetch(`${base}/docs/static/index.html`);
  expect(ui.status).toBe(200);
  expect(await ui.text()).toMatch(/swagger/i);
  const page = await fetch(`${base}/signin`);
  expect(page.status).toBe(200);
  const script = /src="([^"]*signin\.js)"/.exec(await page.text())?.[1];
  expect(script).toBeDefined();
  expect((await fetch(new URL(script as string, `${base}/`))).status).toBe(200);
});

test('signs in (argon2, outside the bundle; tokens signed inside it), invites, and mails the welcome', async () => {
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  const login = await fetch(`${base}/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: ADMIN_EMAIL, password: ADMIN_PASSWORD, codeChallenge: challenge, codeChallengeMethod: 'S256', scope: 'openid' }),
  });
  expect(login.status).toBe(200);
  const { code } = (await login.json()) as { code: string };
  const token = await fetch(`${base}/oauth2/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, code_verifier: verifier }).toString(),
  });
  expect(token.status).toBe(200);
  const { access_token: access, project } = (await token.json()) as { access_token: string; project: { reference: string } };
  const projectId = project.reference.split('/')[1];

  const invite = await fetch(`${base}/admin/projects/${projectId}/invite`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${access}` },
    body: JSON.stringify({ resourceType: 'Practitioner', firstName: 'Bundle', lastName: 'Invitee', email: 'bundle-invitee@example.com', sendEmail: true }),
  });
  expect(invite.status).toBe(201);
  const outbox = join(dataDir, 'outbox');
  expect(await waitUntil(() => existsSync(outbox) && readdirSync(outbox).some((name) => name.endsWith('.eml')), 10_000)).toBe(true);
  const mail = readFileSync(join(outbox, readdirSync(outbox).find((name) => name.endsWith('.eml')) as string), 'utf8');
  expect(mail).toMatch(/^To: bundle-invitee@example\.com/m);
  expect(mail).toMatch(/setpassword/);
});

test('writes its log lines and shuts down cleanly on SIGTERM', async () => {
  expect(stdout).toMatch(/"msg":"Created the super administrator bundle-admin@example\.com/);
  expect(stdout).toMatch(/"msg":"request completed"/);
  server?.kill('SIGTERM');
  expect(await exited).toBe(0);
});

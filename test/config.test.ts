import { ConfigError, loadConfig } from '../src/config';

describe('loadConfig', () => {
  test('defaults follow the contract', () => {
    const config = loadConfig({});
    expect(config.port).toBe(8103);
    expect(config.host).toBe('127.0.0.1');
    expect(config.baseUrl).toBe('http://localhost:8103/');
    expect(config.mongodbUri).toBeUndefined();
    expect(config.smtpUrl).toBeUndefined();
    expect(config.emailFrom).toBe('no-reply@localhost');
    expect(config.adminEmail).toBe('admin@example.com');
    expect(config.adminPassword).toBeUndefined();
    expect(config.dataDir).toMatch(/data$/);
  });

  test('BASE_URL gets a trailing slash and PORT changes the default base', () => {
    expect(loadConfig({ BASE_URL: 'https://fhir.example.org/api' }).baseUrl).toBe('https://fhir.example.org/api/');
    expect(loadConfig({ PORT: '9000' }).baseUrl).toBe('http://localhost:9000/');
  });

  test.each([
    [{ PORT: 'eighty' }, /PORT/],
    [{ PORT: '70000' }, /PORT/],
    [{ MONGODB_URI: 'http://x' }, /MONGODB_URI/],
    [{ SMTP_URL: 'not a url' }, /SMTP_URL/],
    [{ ADMIN_EMAIL: 'nobody' }, /ADMIN_EMAIL/],
    [{ ADMIN_PASSWORD: 'short' }, /ADMIN_PASSWORD/],
    [{ MONGODB_TIMEOUT_MS: '100' }, /MONGODB_TIMEOUT_MS/],
    [{ MONGODB_TIMEOUT_MS: 'soon' }, /MONGODB_TIMEOUT_MS/],
  ])('rejects %p', (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });

  test('MONGODB_TIMEOUT_MS bounds how long a request waits for the database (default 3 s)', () => {
    expect(loadConfig({}).mongodbTimeoutMs).toBe(3000);
    expect(loadConfig({ MONGODB_TIMEOUT_MS: '10000' }).mongodbTimeoutMs).toBe(10000);
  });

  test('SUBSCRIPTION_ALLOWED_HOSTS lists hosts in the URL parser’s normal form; SUBSCRIPTION_POLL_MS sets the dispatcher’s pace', () => {
    expect(loadConfig({}).subscriptionAllowedHosts).toEqual([]);
    expect(loadConfig({}).subscriptionPollMs).toBe(1000);
    expect(loadConfig({ SUBSCRIPTION_ALLOWED_HOSTS: ' 127.0.0.1, Hooks.Internal ,::1,0x7f.2, [FE80::1] ' }).subscriptionAllowedHosts).toEqual(['127.0.0.1', 'hooks.internal', '::1', '127.0.0.2', 'fe80::1']);
    expect(loadConfig({ SUBSCRIPTION_POLL_MS: '0' }).subscriptionPollMs).toBe(0);
    for (const bad of ['http://hooks.internal', 'hooks.internal:8080', 'user@hooks.internal', 'a b', '127.0.0.1,,x']) {
      expect(() => loadConfig({ SUBSCRIPTION_ALLOWED_HOSTS: bad })).toThrow(/SUBSCRIPTION_ALLOWED_HOSTS/);
    }
    expect(() => loadConfig({ SUBSCRIPTION_POLL_MS: 'often' })).toThrow(/SUBSCRIPTION_POLL_MS/);
  });
});

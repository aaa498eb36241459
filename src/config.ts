import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';

/** Typed, validated configuration. The only place in src/ that reads process.env. */
export interface AppConfig {
  port: number;
  host: string;
  /** Public base URL, always ending with '/'. */
  baseUrl: string;
  /** A real MongoDB; undefined means: start the embedded engine. */
  mongodbUri?: string;
  /** Database name used on the server. */
  mongodbDatabase: string;
  /** How long a request waits for the database (a server, a connection, a write turn) before answering 503. */
  mongodbTimeoutMs: number;
  /** SMTP transport URL; undefined means: write .eml files under dataDir/outbox. */
  smtpUrl?: string;
  emailFrom: string;
  adminEmail: string;
  /** The configured admin password; undefined means a random one is generated on first start. */
  adminPassword?: string;
  dataDir: string;
  logLevel: string;
  /** Lifetime of an activation (set-password) link. */
  activationTtlMs: number;
  /** Lifetime of an access token, in seconds. */
  accessTokenTtlSeconds: number;
  /** Lifetime of a refresh token, in seconds. */
  refreshTokenTtlSeconds: number;
  /** How often the outbox dispatcher looks for mail to send; 0 disables the dispatcher. */
  outboxPollMs: number;
  /** Whether the rate limiter on /auth and /oauth2 is on. */
  rateLimit: { enabled: boolean; max: number; windowMs: number };
  /**
   * Hosts (names or IP addresses, lower case) a Subscription endpoint may name with plain http,
   * and that may resolve to private, loopback or link-local addresses (SUBSCRIPTION_ALLOWED_HOSTS).
   */
  subscriptionAllowedHosts: string[];
  /** How often the subscription dispatcher looks for notifications to deliver; 0 disables its timer. */
  subscriptionPollMs: number;
  /** How long AuditEvents are kept (AUDIT_RETENTION_DAYS); a TTL index removes older ones. */
  auditRetentionDays: number;
}

export class ConfigError extends Error {}

/** The default of MONGODB_TIMEOUT_MS: how long a request waits for the database before answering 503. */
export const DEFAULT_MONGODB_TIMEOUT_MS = 3000;

/** The default of AUDIT_RETENTION_DAYS: six years, the retention HIPAA asks of security documentation. */
export const DEFAULT_AUDIT_RETENTION_DAYS = 2190;

type Env = Record<string, string | undefined>;

function int(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') {
    return fallback;
  }
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be an integer between ${min} and ${max}, got "${raw}"`);
  }
  return value;
}

function url(env: Env, name: string, protocols: string[]): string | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') {
    return undefined;
  }
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new ConfigError(`${name} is not a valid URL`);
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new ConfigError(`${name} must use one of ${protocols.join(', ')}`);
  }
  return raw;
}

const EMAIL = /^[^\s@]+@[^\s@]+$/;

/**
 * A comma-separated list of host names or IP addresses, each as the URL parser writes it (lower
 * case; IPv4 in dotted decimal, IPv6 compressed without brackets), so that `http://0x7f.1/`
 * matches the entry `127.0.0.1` and `[::FFFF:7F00:1]` the entry `::ffff:7f00:1`.
 */
function hostList(env: Env, name: string): string[] {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') {
    return [];
  }
  return raw.split(',').map((entry) => {
    const value = entry.trim();
    const refused = new ConfigError(`${name} must list host names or IP addresses separated by commas (no scheme, port or path), got "${value}"`);
    if (!value || /[/@?#\s]/.test(value)) {
      throw refused;
    }
    try {
      const host = new URL(`http://${value.includes(':') && !value.startsWith('[') ? `[${value}]` : value}/`).hostname;
      return host.replace(/^\[|\]$/g, '');
    } catch {
      throw refused;
    }
  });
}

/** Reads and validates the configuration from the environment (process.env unless given). */
export function loadConfig(env: Env = process.env): AppConfig {
  const port = int(env, 'PORT', 8103, 0, 65535);
  const host = env.HOST || '127.0.0.1';
  let baseUrl = url(env, 'BASE_URL', ['http:', 'https:']) ?? `http://localhost:${port}/`;
  if (!baseUrl.endsWith('/')) {
    baseUrl += '/';
  }
  const emailFrom = env.EMAIL_FROM || 'no-reply@localhost';
  const adminEmail = (env.ADMIN_EMAIL || 'admin@example.com').toLowerCase();
  if (!EMAIL.test(adminEmail)) {
    throw new ConfigError('ADMIN_EMAIL is not a valid email address');
  }
  const adminPassword = env.ADMIN_PASSWORD || undefined;
  if (adminPassword !== undefined && (adminPassword.length < 8 || Buffer.byteLength(adminPassword) > 72)) {
    throw new ConfigError('ADMIN_PASSWORD must be 8 to 72 bytes long');
  }
  return {
    port,
    host,
    baseUrl,
    mongodbUri: url(env, 'MONGODB_URI', ['mongodb:', 'mongodb+srv:']),
    mongodbDatabase: env.MONGODB_DATABASE || 'fhir',
    mongodbTimeoutMs: int(env, 'MONGODB_TIMEOUT_MS', DEFAULT_MONGODB_TIMEOUT_MS, 500, 120_000),
    smtpUrl: url(env, 'SMTP_URL', ['smtp:', 'smtps:']),
    emailFrom,
    adminEmail,
    adminPassword,
    dataDir: resolve(env.DATA_DIR || './data'),
    logLevel: env.LOG_LEVEL || 'info',
    activationTtlMs: int(env, 'ACTIVATION_TTL_HOURS', 7 * 24, 1, 24 * 365) * 3600_000,
    accessTokenTtlSeconds: int(env, 'ACCESS_TOKEN_TTL_SECONDS', 3600, 60, 86400),
    refreshTokenTtlSeconds: int(env, 'REFRESH_TOKEN_TTL_SECONDS', 14 * 86400, 300, 365 * 86400),
    outboxPollMs: int(env, 'OUTBOX_POLL_MS', 1000, 0, 600_000),
    rateLimit: {
      enabled: env.RATE_LIMIT !== 'off',
      max: int(env, 'RATE_LIMIT_MAX', 60, 1, 100_000),
      windowMs: int(env, 'RATE_LIMIT_WINDOW_MS', 60_000, 1000, 3600_000),
    },
    subscriptionAllowedHosts: hostList(env, 'SUBSCRIPTION_ALLOWED_HOSTS'),
    subscriptionPollMs: int(env, 'SUBSCRIPTION_POLL_MS', 1000, 0, 600_000),
    auditRetentionDays: int(env, 'AUDIT_RETENTION_DAYS', DEFAULT_AUDIT_RETENTION_DAYS, 1, 36_500),
  };
}

/** A random password for the first administrator when ADMIN_PASSWORD is unset. */
export function generateAdminPassword(): string {
  return randomBytes(18).toString('base64url');
}

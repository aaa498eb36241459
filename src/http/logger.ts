import { LogController, type FastifyBaseLogger, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Bindings, ChildLoggerOptions } from 'fastify/types/logger';
import type { AppConfig } from '../config';
import { CENSOR, SECRET_KEYS, redactSecrets } from './log-redaction';

const SECRET_SERIALIZERS = Object.fromEntries([...SECRET_KEYS].map((key) => [key, () => CENSOR]));

/** Routes whose path carries a secret, by the parameter that holds it. */
const SECRET_PARAM = ':secret';

/** Percent-escapes decoded byte by byte (never throws, even on a malformed escape). */
function decodePath(path: string): string {
  return path.replace(/%([0-9a-f]{2})/gi, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

const SETPASSWORD = /setpassword/i;

/** The URL up to its query string or fragment. */
function beforeQuery(url: string): string {
  const query = url.indexOf('?');
  const fragment = url.indexOf('#');
  const end = query < 0 ? fragment : fragment < 0 ? query : Math.min(query, fragment);
  return end < 0 ? url : url.slice(0, end);
}

/**
 * A URL safe to log: no query string or fragment, no activation secret in
 * /setpassword/{id}/{secret}. A request the router matched to a route with a `:secret` parameter
 * is logged as its route pattern (so `/%73etpassword/x/SECRET`, which reaches the same page, is
 * covered); any other path is checked after percent-decoding, case-insensitively and across
 * doubled slashes, so a mistyped link that matched no route does not leak its secret either.
 */
export function safeUrl(url: string, route?: string): string {
  if (route?.includes(SECRET_PARAM)) {
    return route.replace(SECRET_PARAM, '[redacted]');
  }
  const path = beforeQuery(url);
  if (!path.includes('%') && !SETPASSWORD.test(path)) {
    // Nothing to decode and no activation link: the common case, without the replacements.
    return path;
  }
  const decoded = decodePath(path);
  const redacted = decoded.replace(/(\/setpassword\/+[^/]+\/+)[^/]+.*/i, '$1[redacted]');
  return redacted === decoded ? path : redacted;
}

interface LoggedRequest {
  method: string;
  url: string;
  id: string;
  ip?: string;
  routeOptions?: { url?: string };
}

export function loggerOptions(config: AppConfig): object {
  return {
    level: config.logLevel,
    // Secrets replaced in every line (see log-redaction.ts); pino's `redact` cost ~8 µs a line.
    // pino gives a child logger's bindings to serializers but not to formatters.log: a secret
    // bound by name (`log.child({ password })`) is censored by a serializer of that name.
    formatters: { log: redactSecrets },
    serializers: {
      ...SECRET_SERIALIZERS,
      // Never log query strings: activation links and codes travel there.
      req: (req: LoggedRequest) => ({ id: req.id, method: req.method, url: typeof req.url === 'string' ? safeUrl(req.url, req.routeOptions?.url) : undefined, ip: req.ip }),
    },
  };
}

type Level = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

/**
 * A request's logger, made only when something logs through it. The one line per request does
 * not need it (see `logLine`): most requests never pay for a child logger.
 */
export class LazyChildLogger implements FastifyBaseLogger {
  private made?: FastifyBaseLogger;

  constructor(
    private readonly parent: FastifyBaseLogger,
    private readonly bindings: Bindings,
    private readonly options: ChildLoggerOptions,
  ) {}

  private get real(): FastifyBaseLogger {
    this.made ??= this.parent.child(this.bindings, this.options);
    return this.made;
  }

  get level(): string {
    return this.real.level;
  }

  set level(level: string) {
    this.real.level = level;
  }

  /**
   * Writes one line as the child would (its bindings, then `details`), through the parent when
   * no child was made: the same line, without making one.
   */
  logLine(level: Level, details: object, message: string): void {
    if (this.made || this.options.level !== undefined || this.options.serializers !== undefined) {
      this.real[level](details, message);
    } else {
      this.parent[level]({ ...this.bindings, ...details }, message);
    }
  }

  // Methods on the prototype (not arrow-function fields): nothing is allocated per request but the instance.
  fatal(...args: unknown[]): void {
    this.write('fatal', args);
  }
  error(...args: unknown[]): void {
    this.write('error', args);
  }
  warn(...args: unknown[]): void {
    this.write('warn', args);
  }
  info(...args: unknown[]): void {
    this.write('info', args);
  }
  debug(...args: unknown[]): void {
    this.write('debug', args);
  }
  trace(...args: unknown[]): void {
    this.write('trace', args);
  }
  silent(...args: unknown[]): void {
    this.write('silent', args);
  }

  private write(level: Level, args: unknown[]): void {
    const real = this.real;
    (real[level] as (...a: unknown[]) => void).apply(real, args);
  }

  child(bindings: Bindings, options?: ChildLoggerOptions): FastifyBaseLogger {
    return this.real.child(bindings, options);
  }
}

/** Fastify's childLoggerFactory: each request's logger, made lazily (see LazyChildLogger). */
export function lazyChildLoggerFactory(logger: FastifyBaseLogger, bindings: Bindings, options: ChildLoggerOptions): FastifyBaseLogger {
  return new LazyChildLogger(logger, bindings, options);
}

function logLine(log: FastifyBaseLogger, level: Level, details: object, message: string): void {
  if (log instanceof LazyChildLogger) {
    log.logLine(level, details, message);
  } else {
    log[level](details, message);
  }
}

/**
 * One log line per request, written when it is answered: method, URL (made safe by the `req`
 * serializer), status and response time. Fastify's default writes two ("incoming request" and
 * "request completed"), which at the default level was about a fifth of the CPU time of a read.
 * Every other line Fastify writes (errors, aborted streams...) is unchanged.
 */
export class OneLinePerRequest extends LogController {
  override incomingRequest(): void {
    // Logged with the completion instead.
  }

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    if (this.isLogDisabled(request)) {
      return;
    }
    if (error) {
      logLine(reply.log, 'error', { req: request, res: reply, err: error, responseTime: reply.elapsedTime }, 'request errored');
    } else {
      logLine(reply.log, 'info', { req: request, res: reply, responseTime: reply.elapsedTime }, 'request completed');
    }
  }
}

import { request as httpRequest, type Agent, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';
import type { CheckedEndpoint } from './endpoint';

/**
 * One POST of a notification, to the address the endpoint check chose (never a fresh DNS
 * answer): redirects are not followed (a 3xx is a failed delivery), the connection must be made
 * within `connectTimeoutMs` and the whole exchange end within `totalTimeoutMs`, response headers
 * are limited to 16 KB and at most `maxResponseBytes` of the response body are read (the rest is
 * cut off). Answers the response status; throws DeliveryError when no response came.
 */

export interface PostLimits {
  connectTimeoutMs: number;
  totalTimeoutMs: number;
  maxResponseBytes: number;
}

export const DEFAULT_POST_LIMITS: PostLimits = { connectTimeoutMs: 5_000, totalTimeoutMs: 15_000, maxResponseBytes: 64 * 1024 };

/** A delivery that got no HTTP answer; the message is short and safe to store. */
export class DeliveryError extends Error {}

const MAX_HEADER_BYTES = 16 * 1024;

/**
 * `agent`: a keep-alive agent the caller uses for one batch to one endpoint (its connections were
 * made to the same checked address); without it, a connection of its own.
 */
export function postNotification(endpoint: CheckedEndpoint, headers: Record<string, string>, body: Buffer, limits: PostLimits = DEFAULT_POST_LIMITS, agent?: Agent): Promise<number> {
  const { url, address, family } = endpoint;
  // Connect to the checked address whatever the name resolves to now (an IP literal host is not looked up at all).
  const pinned: LookupFunction = (_hostname, options, callback) => {
    if ((options as { all?: boolean }).all) {
      (callback as unknown as (err: null, addresses: { address: string; family: number }[]) => void)(null, [{ address, family }]);
    } else {
      callback(null, address, family);
    }
  };
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise<number>((resolve, reject) => {
    let settled = false;
    const finish = (err: Error | undefined, status?: number): void => {
      if (settled) {
        return;
      }
      settled = true;
      clearTimeout(total);
      clearTimeout(connect);
      if (err) {
        req.destroy();
        reject(err);
      } else {
        resolve(status as number);
      }
    };
    const req = send(
      url,
      {
        method: 'POST',
        headers: { ...headers, 'content-length': String(body.length) },
        lookup: pinned,
        agent: agent ?? false,
        maxHeaderSize: MAX_HEADER_BYTES,
      },
      (res: IncomingMessage) => {
        clearTimeout(connect);
        const status = res.statusCode ?? 0;
        let received = 0;
        res.on('data', (chunk: Buffer) => {
          received += chunk.length;
          if (received > limits.maxResponseBytes) {
            // Enough: the status is what counts.
            res.destroy();
            finish(undefined, status);
          }
        });
        res.on('end', () => finish(undefined, status));
        res.on('close', () => finish(undefined, status));
        res.on('error', () => finish(undefined, status));
      },
    );
    const total = setTimeout(() => finish(new DeliveryError(`no answer within ${limits.totalTimeoutMs} ms`)), limits.totalTimeoutMs);
    const connect = setTimeout(() => finish(new DeliveryError(`could not connect within ${limits.connectTimeoutMs} ms`)), limits.connectTimeoutMs);
    req.on('socket', (socket) => {
      if (!socket.connecting && !socket.pending) {
        // A kept-alive connection: connected already.
        clearTimeout(connect);
        return;
      }
      socket.once(url.protocol === 'https:' ? 'secureConnect' : 'connect', () => clearTimeout(connect));
    });
    req.on('error', (err: NodeJS.ErrnoException) => finish(new DeliveryError(describeNetworkError(err))));
    req.end(body);
  });
}

/** The error code and first line of a network error, without anything the URL may carry. */
function describeNetworkError(err: NodeJS.ErrnoException): string {
  const code = typeof err.code === 'string' && /^[A-Z0-9_]{1,40}$/.test(err.code) ? err.code : undefined;
  const message = (err.message ?? 'network error').split(/\r?\n/)[0].slice(0, 160);
  return code ? `${code}: ${message}` : message;
}

import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, extname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { notFound } from '../errors';
import { PAGE_HEADERS } from './security-headers';

/**
 * The browser files of the pages (ES modules and one stylesheet) in src/pages/assets/, served as
 * they are from memory: read once at start, with a gzip copy and an ETag. No build step: what is
 * in the repository is what the browser runs.
 */

const TYPES: Readonly<Record<string, string>> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/** A file name the assets folder may serve: no path, no dot files. */
const ASSET_NAME = /^[a-z0-9][a-z0-9-]*\.(js|css|svg)$/;

export interface Asset {
  name: string;
  type: string;
  body: Buffer;
  gzip: Buffer;
  etag: string;
}

/** The assets folder of this package, found from here whether running from src or dist. */
export function findAssetsDir(from: string = __dirname): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, 'src', 'pages', 'assets');
    if (existsSync(join(dir, 'package.json')) && existsSync(candidate)) {
      return candidate;
    }
    if (dirname(dir) === dir) {
      throw new Error(`src/pages/assets not found above ${from}`);
    }
  }
}

/** Reads every servable file of the folder. */
export function loadAssets(dir: string = findAssetsDir()): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  for (const name of readdirSync(dir).sort()) {
    if (!ASSET_NAME.test(name)) {
      continue;
    }
    const body = readFileSync(join(dir, name));
    const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
    assets.set(name, { name, type: TYPES[extname(name)], body, gzip: gzipSync(body, { level: 9 }), etag });
  }
  return assets;
}

function acceptsGzip(request: FastifyRequest): boolean {
  const accept = request.headers['accept-encoding'];
  return typeof accept === 'string' && /\bgzip\b/.test(accept);
}

/** Answers GET /assets/{name}: 304 when the ETag matches, gzip when accepted, 404 otherwise. */
export function sendAsset(assets: ReadonlyMap<string, Asset>, name: string, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const asset = ASSET_NAME.test(name) ? assets.get(name) : undefined;
  if (!asset) {
    throw notFound(`No asset named ${name}`);
  }
  reply.headers({
    ...PAGE_HEADERS,
    'content-type': asset.type,
    'cache-control': 'no-cache',
    etag: asset.etag,
    vary: 'accept-encoding',
  });
  if (request.headers['if-none-match'] === asset.etag) {
    return reply.status(304).send();
  }
  if (acceptsGzip(request)) {
    return reply.header('content-encoding', 'gzip').send(asset.gzip);
  }
  return reply.send(asset.body);
}

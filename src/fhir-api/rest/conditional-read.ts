/** The conditional headers of a read (or of a GET entry of a Bundle, which carries the same). */
export interface ConditionalReadHeaders {
  ifNoneMatch?: string;
  ifModifiedSince?: string;
}

const ENTITY_TAG = /^(?:W\/)?"([^"]*)"$/;

/**
 * Whether a read answers 304 Not Modified (RFC 9110 13.1.2, 13.1.3): `If-None-Match` lists the
 * current version's ETag (`W/"3"`, compared weakly, or `*`); without `If-None-Match`,
 * `If-Modified-Since` is an HTTP date at or after the version's last change (whole seconds, the
 * precision of Last-Modified). A malformed header is ignored, as HTTP says.
 */
export function notModified(headers: ConditionalReadHeaders, version: number, lastUpdated: Date): boolean {
  if (headers.ifNoneMatch !== undefined) {
    return headers.ifNoneMatch.split(',').some((tag) => {
      const trimmed = tag.trim();
      return trimmed === '*' || ENTITY_TAG.exec(trimmed)?.[1] === String(version);
    });
  }
  if (headers.ifModifiedSince !== undefined) {
    const since = Date.parse(headers.ifModifiedSince);
    return !Number.isNaN(since) && Math.floor(lastUpdated.getTime() / 1000) * 1000 <= since;
  }
  return false;
}

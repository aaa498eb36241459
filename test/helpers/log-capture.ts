import { Writable } from 'node:stream';
import type { AppConfig } from '../../src/config';
import { loggerOptions } from '../../src/http/logger';

/**
 * The server's own logger options (as main.ts gives them) at `level`, writing every line it logs
 * into `lines`: for tests that read what the server logged.
 */
export function capturingLogger(lines: string[], level = 'info'): object {
  const stream = new Writable({
    write(chunk, _enc, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { ...loggerOptions({ logLevel: level } as AppConfig), stream };
}

import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * Files shipped with the package (fhir-profiles/, the mail templates, package.json), found from
 * here whether the server runs from src/ (tsx, jest) or from dist/src/ (npm start).
 */

/**
 * The absolute path of `relative` in the package: the first folder above `from` that holds a
 * package.json and that path. Throws when there is none.
 */
export function findPackagePath(relative: string, from: string = __dirname): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, relative);
    if (existsSync(join(dir, 'package.json')) && existsSync(candidate)) {
      return candidate;
    }
    if (dirname(dir) === dir) {
      throw new Error(`${relative} not found above ${from}`);
    }
  }
}

/** The server's version, from package.json (the one place it is written). */
export const SERVER_VERSION: string = (JSON.parse(readFileSync(findPackagePath('package.json'), 'utf8')) as { version: string }).version;

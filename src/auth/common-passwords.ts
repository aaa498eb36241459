import list from './common-passwords.json';

/**
 * Passwords seen most often in breaches and guessing lists (lower-case), shipped with the
 * server: no network is needed to refuse them. The list is data (common-passwords.json).
 */
export const COMMON_PASSWORDS: ReadonlySet<string> = new Set((list as string[]).map((p) => p.toLowerCase()));

/** The longest string kept per indexed value (longer ones are cut: index keys must stay small). */
export const MAX_INDEXED_LENGTH = 256;

/** Lower-cased, accent-folded form used for string search ("Hëlga" → "helga"). */
export function normalizeString(value: string): string {
  return value
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .trim()
    .slice(0, MAX_INDEXED_LENGTH);
}

/** Escapes a string for use inside a regular expression. */
export function escapeRegex(value: string): string {
  return value.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
}

/** A FHIR logical id. */
export const ID_PATTERN = /^[A-Za-z0-9\-.]{1,64}$/;

/** A relative reference `Type/id`, from a relative or absolute reference string, or undefined. */
export function normalizeReference(reference: string): string | undefined {
  const match = /(?:^|\/)([A-Z][A-Za-z]{0,63})\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[^/]+)?$/.exec(reference);
  return match ? `${match[1]}/${match[2]}` : undefined;
}

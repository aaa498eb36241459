/**
 * Element paths as access policies name them ('birthDate', 'name.family'): a dot-separated
 * path through objects, stepping into every element of an array on the way.
 */

type Json = unknown;

function isObject(value: Json): value is Record<string, Json> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function splitPath(path: string): string[] {
  return path.split('.').filter((s) => s.length > 0);
}

function removeSegments(value: Json, segments: string[]): Json {
  if (Array.isArray(value)) {
    let changed = false;
    const next = value.map((item) => {
      const result = removeSegments(item, segments);
      changed ||= result !== item;
      return result;
    });
    return changed ? next : value;
  }
  if (!isObject(value) || segments.length === 0 || !(segments[0] in value)) {
    return value;
  }
  const [head, ...rest] = segments;
  if (rest.length === 0) {
    const copy = { ...value };
    delete copy[head];
    return copy;
  }
  const child = removeSegments(value[head], rest);
  return child === value[head] ? value : { ...value, [head]: child };
}

/** A copy of value without the element at path (in every array element); the input is not changed. */
export function removePath<T>(value: T, path: string): T {
  return removeSegments(value, splitPath(path)) as T;
}

/** Every value found at path, arrays flattened (empty when the path leads nowhere). */
export function valuesAt(value: Json, path: string): Json[] {
  let current: Json[] = [value];
  for (const segment of splitPath(path)) {
    const next: Json[] = [];
    for (const item of current.flatMap((v) => (Array.isArray(v) ? v : [v]))) {
      if (isObject(item) && item[segment] !== undefined) {
        next.push(item[segment]);
      }
    }
    current = next;
  }
  return current.flatMap((v) => (Array.isArray(v) ? v : [v]));
}

/** Structural equality of JSON values, ignoring object key order. */
export function jsonEqual(a: Json, b: Json): boolean {
  if (a === b) {
    return true;
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((item, i) => jsonEqual(item, b[i]));
  }
  if (isObject(a) && isObject(b)) {
    const keysA = Object.keys(a).filter((k) => a[k] !== undefined);
    const keysB = Object.keys(b).filter((k) => b[k] !== undefined);
    return keysA.length === keysB.length && keysA.every((k) => jsonEqual(a[k], b[k]));
  }
  return false;
}

/** Whether the element at path holds the same values in both (absent equals absent). */
export function sameAt(a: Json, b: Json, path: string): boolean {
  return jsonEqual(valuesAt(a, path), valuesAt(b, path));
}

/** Whether the element at path is present (with any value) in value. */
export function hasPath(value: Json, path: string): boolean {
  return valuesAt(value, path).length > 0;
}

/** The top-level element a path starts with ('name' for 'name.family'). */
export function topLevel(path: string): string {
  return splitPath(path)[0] ?? path;
}

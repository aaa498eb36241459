import { badRequest } from '../../errors';
import type { BundleEntryRequest } from './entries';

/**
 * `urn:uuid:` references between the entries of a transaction: each entry's resource (and a
 * PATCH entry's JSON Patch values) with every `reference` that names the fullUrl of a POST entry
 * replaced by the `Type/id` that entry got. A `urn:uuid:` reference to no entry of the Bundle is a
 * 400 naming the entry: stored as it is, it would point nowhere.
 */

const URN = 'urn:uuid:';

/** A copy of `value` with its references replaced; `unknown` collects urn:uuid references to no entry. */
function rewrite(value: unknown, targets: ReadonlyMap<string, string>, unknown: string[]): unknown {
  if (Array.isArray(value)) {
    return value.map((v) => rewrite(v, targets, unknown));
  }
  if (!value || typeof value !== 'object') {
    return value;
  }
  const out: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(value as Record<string, unknown>)) {
    if (key === 'reference' && typeof child === 'string' && child.startsWith(URN)) {
      const target = targets.get(child);
      if (target === undefined) {
        unknown.push(child);
      }
      out[key] = target ?? child;
    } else {
      out[key] = rewrite(child, targets, unknown);
    }
  }
  return out;
}

/** A JSON Patch may also set a reference string itself: {"op": "add", "path": ".../reference", "value": "urn:uuid:..."}. */
function rewritePatch(patch: unknown, targets: ReadonlyMap<string, string>, unknown: string[]): unknown {
  if (!Array.isArray(patch)) {
    return rewrite(patch, targets, unknown);
  }
  return patch.map((op: unknown) => {
    const o = op as Record<string, unknown> | null;
    if (o && typeof o.path === 'string' && o.path.endsWith('/reference') && typeof o.value === 'string' && o.value.startsWith(URN)) {
      const target = targets.get(o.value);
      if (target === undefined) {
        unknown.push(o.value);
      }
      return { ...o, value: target ?? o.value };
    }
    return rewrite(op, targets, unknown);
  });
}

/** The entries (by index) with their urn:uuid references resolved through `targets` (fullUrl → Type/id). */
export function resolveReferences(entries: readonly BundleEntryRequest[], targets: ReadonlyMap<string, string>): BundleEntryRequest[] {
  const resolved: BundleEntryRequest[] = [];
  for (const entry of entries) {
    const unknown: string[] = [];
    const copy: BundleEntryRequest = { ...entry };
    if (entry.resource) {
      copy.resource = rewrite(entry.resource, targets, unknown) as Record<string, unknown>;
    }
    if (entry.patch !== undefined) {
      copy.patch = rewritePatch(entry.patch, targets, unknown);
    }
    if (unknown.length > 0) {
      const where = `Bundle.entry[${entry.index}].resource`;
      throw badRequest(`${where} references ${unknown[0].slice(0, 80)}, which is not the fullUrl of an entry this transaction creates (POST)`, where);
    }
    resolved[entry.index] = copy;
  }
  return resolved;
}

/** The urn:uuid references a value holds (in `reference` elements). */
function urnReferences(value: unknown, found: Set<string> = new Set()): Set<string> {
  if (Array.isArray(value)) {
    value.forEach((v) => urnReferences(v, found));
  } else if (value && typeof value === 'object') {
    for (const [key, child] of Object.entries(value as Record<string, unknown>)) {
      if (key === 'reference' && typeof child === 'string' && child.startsWith(URN)) {
        found.add(child);
      } else {
        urnReferences(child, found);
      }
    }
  }
  return found;
}

/**
 * The POST entries in the order to create them: each after the entries it references by
 * urn:uuid (a membership after the Practitioner it names: its references are checked when it is
 * written), otherwise in request order; entries that reference each other in a circle keep it.
 */
export function createOrder(posts: readonly BundleEntryRequest[]): BundleEntryRequest[] {
  const byUrl = new Map(posts.filter((e) => e.fullUrl?.startsWith(URN)).map((e) => [e.fullUrl as string, e.index]));
  const needs = new Map(posts.map((e) => [e.index, [...urnReferences(e.resource)].map((u) => byUrl.get(u)).filter((i): i is number => i !== undefined && i !== e.index)]));
  const done = new Set<number>();
  const order: BundleEntryRequest[] = [];
  while (order.length < posts.length) {
    const waiting = posts.filter((e) => !done.has(e.index));
    const next = waiting.find((e) => (needs.get(e.index) ?? []).every((i) => done.has(i))) ?? waiting[0];
    order.push(next);
    done.add(next.index);
  }
  return order;
}


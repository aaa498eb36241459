import type { AccessPolicy, Project, ProjectMembership, RelatedPerson } from '@medplum/fhirtypes';
import type { FastifyBaseLogger } from 'fastify';
import { SESSION_CACHE_TTL_MS } from '../accounts/account-services';
import type { AuthContext } from '../accounts/auth-context';
import { grantsSuperAdmin } from '../accounts/memberships';
import type { Clock } from '../clock';
import type { Store } from '../db/store';
import { forbidden, unauthorized } from '../errors';
import { idOf, readCurrent, type StoredResource } from '../fhir/repository';
import { TtlCache } from '../ttl-cache';
import { CLINICAL_TYPES, currentCollection } from '../fhir/resource-types';
import { fullRule, projectAdminRules, scopeFromRules, superAdminScope, type AccessRule, type AccessScope } from './access-scope';
import { mentions, mergeRules, referenceParameter, rulesFromPolicy, stringParameter, withoutAdminTypes, type ParameterValue, type PolicyProblem } from './policy-rules';

/*
 * access/ — domain layer: who may see and write what. AccessPolicy rules, the caller's scope (and
 * its cache), enforcement on resources and searches, confinement filters, and the rules of writes
 * to administrative resources (owner and last administrator, account removal). It imports
 * accounts/, storage and the base; the API calls it before every read and write.
 */

/** The app's cache of resolved scopes (see resolveAccessScope); `clear()` it after writing a membership, policy or RelatedPerson. */
export interface AccessServices {
  scopes: TtlCache<AccessScope>;
}

/** The access services of one app: scopes are remembered as long as sign-in sessions are (SESSION_CACHE_TTL_MS). */
export function createAccessServices(clock: Clock): AccessServices {
  return { scopes: new TtlCache<AccessScope>(clock, SESSION_CACHE_TTL_MS) };
}

/** With `access` (the app's cache), scopes are remembered for a few seconds. */
type ResolveContext = Store & { log: FastifyBaseLogger; access?: AccessServices };

/** One policy a membership applies, with its own parameters. */
interface PolicyUse {
  policyId: string;
  parameters: Map<string, ParameterValue>;
}

const POLICY_BROKEN = 'Your access policy could not be loaded; ask a project administrator to check your project membership';

function policyUses(membership: ProjectMembership): PolicyUse[] {
  const uses: PolicyUse[] = [];
  const add = (reference: string | undefined, parameters: Map<string, ParameterValue>): void => {
    const policyId = idOf({ reference }, 'AccessPolicy');
    if (!policyId) {
      throw forbidden(POLICY_BROKEN);
    }
    uses.push({ policyId, parameters });
  };
  if (membership.accessPolicy) {
    add(membership.accessPolicy.reference, new Map());
  }
  for (const access of membership.access ?? []) {
    const parameters = new Map<string, ParameterValue>();
    for (const p of access.parameter ?? []) {
      if (p.valueReference?.reference) {
        parameters.set(p.name, referenceParameter(p.valueReference.reference));
      } else if (p.valueString !== undefined) {
        parameters.set(p.name, stringParameter(p.valueString));
      }
    }
    add(access.policy?.reference, parameters);
  }
  return uses;
}

async function loadMembership(ctx: ResolveContext, auth: AuthContext): Promise<ProjectMembership> {
  const doc = await ctx.database.db.collection<StoredResource<ProjectMembership>>(currentCollection('ProjectMembership')).findOne({ _id: auth.membershipId });
  const membership = doc?.resource;
  if (
    !doc ||
    doc.deleted ||
    !membership ||
    membership.project?.reference !== `Project/${auth.projectId}` ||
    membership.user?.reference !== `${auth.userType}/${auth.userId}`
  ) {
    throw unauthorized('Your project membership no longer exists; sign in again');
  }
  if (membership.active === false) {
    throw unauthorized('Your project membership is not active; ask a project administrator');
  }
  return membership;
}

/** The policies by id, each in the caller's project; any missing one is a 403 (fail closed). */
async function loadPolicies(ctx: ResolveContext, projectId: string, ids: string[]): Promise<Map<string, AccessPolicy>> {
  const docs = await ctx.database.db
    .collection<StoredResource<AccessPolicy>>(currentCollection('AccessPolicy'))
    .find({ _id: { $in: [...new Set(ids)] } })
    .toArray();
  const found = new Map(docs.filter((d) => !d.deleted && d.project === projectId).map((d) => [d._id, d.resource]));
  if (ids.some((id) => !found.has(id))) {
    throw forbidden(POLICY_BROKEN);
  }
  return found;
}

/** `%patient`: the profile when it is a Patient; for a RelatedPerson, the patient it relates to. */
async function patientOf(ctx: ResolveContext, profile: string | undefined): Promise<string | undefined> {
  if (idOf({ reference: profile }, 'Patient')) {
    return profile;
  }
  const relatedId = idOf({ reference: profile }, 'RelatedPerson');
  if (!relatedId) {
    return undefined;
  }
  const doc = await ctx.database.db.collection<StoredResource<RelatedPerson>>(currentCollection('RelatedPerson')).findOne({ _id: relatedId });
  return doc && !doc.deleted ? doc.resource.patient?.reference : undefined;
}

function needsPatient(uses: PolicyUse[], policies: Map<string, AccessPolicy>): boolean {
  return uses.some((u) => !u.parameters.has('patient') && (policies.get(u.policyId)?.resource ?? []).some((r) => mentions(r.criteria, 'patient')));
}

/**
 * The caller's access for this request: project confinement plus the membership's access
 * policies (`accessPolicy` and every `access[]` entry with its parameters), combined as a union.
 * A member without any policy has the clinical types; a project administrator also the
 * administrative types of the project (under the administrator rules, whatever the policies say
 * about them). The super administrator has everything, but only while the database says so: the
 * token's `super_admin` claim is an upper bound, never trusted alone. Every caller's membership is
 * read: it must still exist, be active and belong to the caller and the token's project; a
 * super-admin token keeps super admin only while that membership makes its holder one
 * (`grantsSuperAdmin`: an admin membership of a `superAdmin` project), and is otherwise treated as
 * the member or project administrator the membership now makes it. At most three reads: the
 * membership, then its project (super-admin tokens) or its policies, and the RelatedPerson behind
 * `%patient` when a policy needs it.
 *
 * The scope's `auth` carries the flags as resolved now (`superAdmin`, `projectAdmin`), not the
 * token's, so code reading `scope.auth` cannot trust a stale claim either.
 *
 * Given the app's cache (`ctx.access.scopes`), a resolved scope is kept per membership for
 * a few seconds (its TTL), so a busy caller costs those reads once per TTL, not once per request.
 * The trade-off is the one the token and the sign-in session already make (see
 * src/accounts/account-services.ts): a change to the membership, its policies or the RelatedPerson behind
 * `%patient` written through THIS instance's FHIR API or $invite clears the cache and applies at
 * once; one written through ANOTHER instance (or straight into the database) applies here within
 * the TTL. This holds for super-admin tokens too. Refusals (401, 403) are never cached.
 */
export async function resolveAccessScope(ctx: ResolveContext, auth: AuthContext): Promise<AccessScope> {
  const cache = ctx.access?.scopes;
  const key = `${auth.membershipId}|${auth.projectId}|${auth.userType}/${auth.userId}|${auth.profile.reference ?? ''}|${auth.superAdmin ? 'super' : ''}`;
  const cached = cache?.get(key);
  if (cached) {
    // A scope holds the caller only as `auth`; the rest depends on the key alone.
    return { ...cached, auth: resolvedAuth(auth, cached) };
  }
  const generation = cache?.generation;
  const scope = await loadScope(ctx, auth);
  cache?.set(key, scope, { generation });
  return scope;
}

/** The caller with the flags the scope was resolved with (not the token's claims). */
function resolvedAuth(auth: AuthContext, scope: Pick<AccessScope, 'superAdmin' | 'projectAdmin'>): AuthContext {
  return { ...auth, superAdmin: scope.superAdmin === true, projectAdmin: scope.projectAdmin === true };
}

/** Reads the membership (and its project or policies) into the caller's scope. */
async function loadScope(ctx: ResolveContext, auth: AuthContext): Promise<AccessScope> {
  const membership = await loadMembership(ctx, auth);
  if (auth.superAdmin && grantsSuperAdmin(await readCurrent<Project>(ctx, 'Project', auth.projectId), membership)) {
    return superAdminScope(resolvedAuth(auth, { superAdmin: true, projectAdmin: true }));
  }
  const projectAdmin = membership.admin === true;
  const uses = policyUses(membership);
  const profile = membership.profile?.reference ?? auth.profile.reference;

  let table = new Map<string, AccessRule[]>();
  if (uses.length === 0) {
    table = new Map(CLINICAL_TYPES.map((t) => [t, [fullRule()]]));
  } else {
    const policies = await loadPolicies(ctx, auth.projectId, uses.map((u) => u.policyId));
    const patient = needsPatient(uses, policies) ? await patientOf(ctx, profile) : undefined;
    const problems: PolicyProblem[] = [];
    for (const use of uses) {
      const parameters = new Map(use.parameters);
      if (profile) {
        parameters.set('profile', referenceParameter(profile));
      }
      if (patient && !parameters.has('patient')) {
        parameters.set('patient', referenceParameter(patient));
      }
      mergeRules(table, rulesFromPolicy(policies.get(use.policyId) as AccessPolicy, parameters, problems));
    }
    if (problems.length > 0) {
      ctx.log.warn({ membership: auth.membershipId, problems }, 'access policy entries ignored (they grant nothing)');
    }
    table = withoutAdminTypes(table);
  }
  if (projectAdmin) {
    for (const [type, rules] of projectAdminRules()) {
      table.set(type, rules);
    }
  }
  return scopeFromRules(resolvedAuth(auth, { superAdmin: false, projectAdmin }), table, { projects: [auth.projectId], projectAdmin, superAdmin: false });
}

import type { Practitioner, Project, ProjectMembership, User } from '@medplum/fhirtypes';
import { newId } from '../clock';
import { generateAdminPassword } from '../config';
import { AmbiguousCommitError, DuplicateKeyError, isDuplicateKey, withTransaction } from '../db/transaction';
import { FhirError } from '../errors';
import { createResource, type RepoContext } from '../fhir/repository';
import type { AccountsContext } from './auth-context';
import { insertCredentials } from './credentials';
import { hashPassword } from './passwords';

/** What the bootstrap needs (it runs while the auth services are being built). */
type BootstrapContext = Omit<AccountsContext, 'auth'>;

export interface BootstrapResult {
  userId: string;
  projectId: string;
  membershipId: string;
  practitionerId: string;
  /** The password, only when this call generated it (it was printed once). */
  generatedPassword?: string;
}

async function anyUser(ctx: BootstrapContext): Promise<boolean> {
  return (await ctx.database.db.collection('User').findOne({})) !== null;
}

/** The claim one instance takes before creating the administrator (see ensureSuperAdmin). */
const BOOTSTRAP = 'bootstrap';
const CLAIM_ID = 'super-admin';
/** A claim older than this without any user means its instance died: another may take over. */
const STALE_CLAIM_MS = 2 * 60_000;

interface ClaimDoc {
  _id: string;
  claimedAt: Date;
}

/** Takes the bootstrap claim (a plain insert on a unique _id), taking over a stale one. */
async function claimBootstrap(ctx: BootstrapContext): Promise<boolean> {
  const claims = ctx.database.db.collection<ClaimDoc>(BOOTSTRAP);
  const now = ctx.clock.now();
  const stale = await claims.findOne({ _id: CLAIM_ID });
  if (stale && now.getTime() - stale.claimedAt.getTime() > STALE_CLAIM_MS) {
    await claims.deleteOne({ _id: CLAIM_ID, claimedAt: stale.claimedAt });
  }
  try {
    await claims.insertOne({ _id: CLAIM_ID, claimedAt: now });
    return true;
  } catch (err) {
    if (isDuplicateKey(err)) {
      return false;
    }
    throw err;
  }
}

/**
 * On a server without any user: creates the super administrator (a server-scoped User with
 * `admin: true`), its "Super Admin" Project (`superAdmin: true`), a Practitioner profile and an
 * admin ProjectMembership, all in one transaction. Idempotent. When several instances start at
 * once, only the one that wins the bootstrap claim (a unique _id, checked at write time on every
 * engine) runs the transaction: concurrent conflicting transactions are never attempted (the
 * embedded engine does not commit those atomically). The claim is released if creation fails.
 */
export async function ensureSuperAdmin(ctx: BootstrapContext): Promise<BootstrapResult | undefined> {
  if ((await anyUser(ctx)) || !(await claimBootstrap(ctx))) {
    return undefined;
  }
  try {
    return await createSuperAdmin(ctx);
  } catch (err) {
    await ctx.database.db.collection<ClaimDoc>(BOOTSTRAP).deleteOne({ _id: CLAIM_ID });
    throw err;
  }
}

async function createSuperAdmin(ctx: BootstrapContext): Promise<BootstrapResult | undefined> {
  const email = ctx.config.adminEmail;
  const generatedPassword = ctx.config.adminPassword ? undefined : generateAdminPassword();
  const passwordHash = await hashPassword(ctx.config.adminPassword ?? (generatedPassword as string));
  const ids = { userId: newId(), projectId: newId(), membershipId: newId(), practitionerId: newId() };

  let created: boolean;
  try {
    created = await withTransaction(ctx.database, async (session) => {
      if ((await ctx.database.db.collection('User').findOne({}, { session })) !== null) {
        return false;
      }
      const repo: RepoContext = { database: ctx.database, clock: ctx.clock, session, profiles: ctx.definitions.profiles, listeners: ctx.listeners };
      const projectRef = { reference: `Project/${ids.projectId}`, display: 'Super Admin' };
      const userRef = { reference: `User/${ids.userId}`, display: email };
      const practitionerRef = { reference: `Practitioner/${ids.practitionerId}`, display: 'Super Admin' };
      await createResource<User>(repo, { resourceType: 'User', firstName: 'Super', lastName: 'Admin', email, emailVerified: true, admin: true }, {}, ids.userId);
      await createResource<Project>(repo, { resourceType: 'Project', name: 'Super Admin', superAdmin: true, owner: userRef }, { project: ids.projectId }, ids.projectId);
      await createResource<Practitioner>(
        repo,
        { resourceType: 'Practitioner', name: [{ given: ['Super'], family: 'Admin' }], telecom: [{ system: 'email', use: 'work', value: email }] },
        { project: ids.projectId },
        ids.practitionerId,
      );
      await createResource<ProjectMembership>(
        repo,
        { resourceType: 'ProjectMembership', project: projectRef, user: userRef, profile: practitionerRef, admin: true },
        { project: ids.projectId },
        ids.membershipId,
      );
      await insertCredentials(ctx.database, session, { _id: ids.userId, passwordHash });
      return true;
    });
  } catch (err) {
    const lostRace = err instanceof DuplicateKeyError || err instanceof AmbiguousCommitError || (err instanceof FhirError && err.code === 'FST_CONFLICT');
    if (!lostRace || !(await anyUser(ctx))) {
      throw err;
    }
    // An ambiguous commit may still have been ours: then the password must be printed.
    created = (await ctx.database.db.collection('User').findOne({ _id: ids.userId as never })) !== null;
  }
  if (!created) {
    return undefined;
  }
  if (generatedPassword) {
    ctx.log.warn(
      `Created the super administrator ${email} with the GENERATED password: ${generatedPassword} ` +
        '(shown only this once; set ADMIN_PASSWORD to choose it, or change it after signing in)',
    );
  } else {
    ctx.log.info(`Created the super administrator ${email} (password from ADMIN_PASSWORD)`);
  }
  return { ...ids, generatedPassword };
}

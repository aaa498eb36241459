import type { ClientApplication, ProjectMembership, Reference, User } from '@medplum/fhirtypes';
import { newId } from '../clock';
import { badRequest } from '../errors';
import { idOf, readCurrent } from '../fhir/repository';
import { defaultUniqueKey } from '../fhir/unique-keys';
import type { AccountsContext } from './auth-context';
import { readCredentials, type CredentialsDoc } from './credentials';
import { checkGrant, grantsSuperAdmin, membershipRequiresMfa, membershipsOf, projectOf } from './memberships';
import { mfaGate } from './mfa';
import { pkceChallengeMethod } from './oauth-grants';
import { randomSecret, sha256Hex, upgradePasswordHash, verifyPassword } from './passwords';
import { insertLogin, newLoginDoc, PENDING_LOGIN_TTL_MS, readLogin, updateLogin, type LoginDoc } from './sessions';

/** Password sign-in (POST /auth/login), membership choice (/auth/profile), continuing after MFA. */

/** An authorization code works once and only this long. */
export const CODE_TTL_MS = 60_000;

const INVALID_CREDENTIALS = 'Email or password is invalid';

export interface PasswordLoginInput {
  email: string;
  password: string;
  projectId?: string;
  clientId?: string;
  resourceType?: string;
  scope?: string;
  nonce?: string;
  codeChallenge?: string;
  codeChallengeMethod?: string;
  remoteAddress?: string;
  userAgent?: string;
}

/** `{ login, code }` once a membership is set, or `{ login, memberships }` to choose from. */
export type LoginResponse = { login: string; code: string } | { login: string; memberships: MembershipChoice[] };

export interface MembershipChoice {
  id: string;
  project: Reference;
  profile?: Reference;
  identifier?: ProjectMembership['identifier'];
}

/** The project a sign-in is for: the one asked for, or the OAuth client's (they must agree). */
async function resolveProject(ctx: AccountsContext, input: PasswordLoginInput): Promise<string | undefined> {
  if (!input.clientId) {
    return input.projectId || undefined;
  }
  const client = await readCurrent<ClientApplication>(ctx, 'ClientApplication', input.clientId);
  const clientProject = client?.meta?.project;
  if (!client || !clientProject) {
    throw badRequest('Unknown clientId: no such ClientApplication', 'clientId');
  }
  if (input.projectId && input.projectId !== clientProject) {
    throw badRequest('projectId does not match the project of clientId', 'projectId');
  }
  return clientProject;
}

async function findUserByKey(ctx: AccountsContext, key: string | undefined): Promise<User | undefined> {
  if (!key) {
    return undefined;
  }
  const doc = await ctx.database.db.collection<{ _id: string; resource: User; deleted: boolean }>('User').findOne({ uk: key, deleted: false });
  return doc?.resource;
}

/**
 * The account an email signs in to: a user scoped to the given project first, else a
 * server-scoped user. Without a project, only server-scoped users.
 */
export async function findUserForLogin(ctx: AccountsContext, email: string, projectId: string | undefined): Promise<User | undefined> {
  const normalized = email.trim().toLowerCase();
  if (projectId) {
    const scoped = await findUserByKey(ctx, defaultUniqueKey({ resourceType: 'User', email: normalized, project: { reference: `Project/${projectId}` } } as User));
    if (scoped) {
      return scoped;
    }
  }
  return findUserByKey(ctx, defaultUniqueKey({ resourceType: 'User', email: normalized } as User));
}

function membershipQuery(login: Pick<LoginDoc, 'projectId' | 'profileType'>): { projectId?: string; profileType?: string } {
  return { projectId: login.projectId, profileType: login.profileType };
}

/**
 * POST /auth/login: checks the password (an unknown email and a wrong password are refused
 * alike), stores a login session, runs the MFA gate, then continues to the code or the choice
 * of membership. Nothing is written when the request is refused.
 */
export async function passwordLogin(ctx: AccountsContext, input: PasswordLoginInput): Promise<Record<string, unknown>> {
  const codeChallengeMethod = pkceChallengeMethod(input);
  const projectId = await resolveProject(ctx, input);
  const user = await findUserForLogin(ctx, input.email, projectId);
  // The credentials document is read once per sign-in: the password and the MFA gate both use it.
  const credentials = user ? await readCredentials(ctx.database, user.id as string) : undefined;
  const passwordHash = credentials?.passwordHash;
  const ok = await verifyPassword(passwordHash ?? (await ctx.auth.dummyPasswordHash()), input.password);
  if (!user || !passwordHash || !ok) {
    // One reason code for an unknown email and a wrong password; the account only when it exists.
    ctx.audit?.record({ kind: 'sign-in', outcome: '4', outcomeDesc: 'invalid-credentials', address: input.remoteAddress, ...(user ? { actor: { principal: { reference: `User/${user.id}` } }, project: user.project?.reference?.split('/')[1] } : {}) });
    throw badRequest(INVALID_CREDENTIALS);
  }
  await upgradePasswordHash(ctx, user.id as string, passwordHash, input.password);

  const pending = { projectId, profileType: input.resourceType || undefined };
  const memberships = await membershipsOf(ctx, `User/${user.id}`, membershipQuery(pending));
  if (memberships.length === 0) {
    ctx.audit?.record({ kind: 'sign-in', outcome: '4', outcomeDesc: 'no-membership', address: input.remoteAddress, actor: { principal: { reference: `User/${user.id}` } }, project: projectId });
    throw badRequest(projectId ? 'This account is not a member of that project' : 'This account is not a member of any project', projectId ? 'projectId' : undefined);
  }

  const now = ctx.clock.now();
  const login = newLoginDoc(
    now,
    ctx.config.refreshTokenTtlSeconds,
    {
      _id: newId(),
      userId: user.id as string,
      userType: 'User',
      authMethod: 'password',
      ...(projectId ? { projectId } : {}),
      ...(pending.profileType ? { profileType: pending.profileType } : {}),
      ...(input.clientId ? { clientId: input.clientId } : {}),
      scope: input.scope || 'openid',
      nonce: input.nonce || newId(),
      ...(input.codeChallenge ? { codeChallenge: input.codeChallenge, codeChallengeMethod } : {}),
    },
    { remoteAddress: input.remoteAddress, userAgent: input.userAgent },
  );
  await insertLogin(ctx.database, login);
  const signedInto = memberships.length === 1 ? idOf(memberships[0].project, 'Project') : projectId;
  const actor = { principal: { reference: `User/${user.id}` }, ...(memberships.length === 1 ? { membership: { reference: `ProjectMembership/${memberships[0].id}` }, profile: memberships[0].profile } : {}) };
  ctx.audit?.record({ kind: 'sign-in', outcomeDesc: 'password accepted', address: input.remoteAddress, actor, project: signedInto, entities: [{ what: { reference: `User/${user.id}` }, role: '11' }] });

  const step = await mfaGate(ctx, login, user, credentials);
  if (step) {
    await updateLogin(ctx.database, login._id, { set: { mfaRequired: true }, now: ctx.clock.now() });
    return step;
  }
  return continueLogin(ctx, login._id, credentials);
}

/** Reads a login that may still receive a code; 400 with a clear message otherwise. */
async function readPendingLogin(ctx: AccountsContext, loginId: string): Promise<LoginDoc> {
  const login = await readLogin(ctx.database, loginId);
  if (!login || login.userType !== 'User') {
    throw badRequest('Login not found: sign in again', 'login');
  }
  if (login.revoked) {
    throw badRequest('Login revoked: sign in again', 'login');
  }
  if (login.granted || login.codeHash) {
    throw badRequest('Login already completed: sign in again', 'login');
  }
  if (ctx.clock.now().getTime() - login.createdAt.getTime() > PENDING_LOGIN_TTL_MS) {
    throw badRequest('This sign-in has expired: sign in again', 'login');
  }
  if (login.mfaRequired && !login.mfaVerified) {
    throw badRequest('Finish the MFA step of this sign-in first', 'login');
  }
  return login;
}

async function describeMemberships(ctx: AccountsContext, memberships: ProjectMembership[]): Promise<MembershipChoice[]> {
  const names = new Map<string, string | undefined>();
  for (const m of memberships) {
    const ref = m.project.reference as string;
    if (!names.has(ref)) {
      names.set(ref, (await projectOf(ctx, m))?.name);
    }
  }
  return memberships.map((m) => {
    const name = names.get(m.project.reference as string);
    const choice: MembershipChoice = { id: m.id as string, project: name ? { reference: m.project.reference, display: name } : m.project };
    if (m.profile) {
      choice.profile = m.profile;
    }
    if (m.identifier) {
      choice.identifier = m.identifier;
    }
    return choice;
  });
}

/**
 * The MFA step a membership demands before its code, or undefined when none is due: a membership
 * marked MFA-required (memberships.ts) of a sign-in that has not passed MFA. The login then
 * remembers the membership, so that the MFA endpoints' `continueLogin` issues the code for it.
 */
async function membershipMfaStep(
  ctx: AccountsContext,
  login: LoginDoc,
  membership: ProjectMembership,
  credentials?: CredentialsDoc,
): Promise<Record<string, unknown> | undefined> {
  if (login.mfaVerified || !membershipRequiresMfa(membership)) {
    return undefined;
  }
  const user = await readCurrent<User>(ctx, 'User', login.userId);
  if (!user) {
    throw badRequest('This account no longer exists', 'login');
  }
  const step = await mfaGate(ctx, login, user, credentials ?? (await readCredentials(ctx.database, login.userId)), true);
  const marked = await updateLogin(ctx.database, login._id, {
    set: { mfaRequired: true, pendingMembershipId: membership.id as string },
    filter: { revoked: false, granted: false, mfaVerified: false, codeHash: { $exists: false } },
    now: ctx.clock.now(),
  });
  if (!step || !marked) {
    throw badRequest('Login already completed: sign in again', 'login');
  }
  return step;
}

/**
 * Sets the membership of a pending login and issues its single-use authorization code, or
 * answers the MFA step that membership demands first (no code, hence no token, without it).
 */
async function issueCode(ctx: AccountsContext, login: LoginDoc, membership: ProjectMembership, credentials?: CredentialsDoc): Promise<LoginResponse | Record<string, unknown>> {
  // Re-checked now: the user, the membership's project or the OAuth client may be gone since the password step.
  const status = await checkGrant(ctx, { userType: 'User', userId: login.userId, projectId: idOf(membership.project, 'Project') ?? '', membershipId: membership.id as string, clientId: login.clientId });
  if (!status.ok) {
    throw badRequest(status.reason, 'login');
  }
  const project = status.project;
  const mfaStep = await membershipMfaStep(ctx, login, membership, credentials);
  if (mfaStep) {
    return mfaStep;
  }
  const code = randomSecret(32);
  const now = ctx.clock.now();
  const updated = await updateLogin(ctx.database, login._id, {
    set: {
      projectId: project.id as string,
      membershipId: membership.id as string,
      profile: membership.profile,
      projectAdmin: membership.admin === true,
      superAdmin: grantsSuperAdmin(project, membership),
      codeHash: sha256Hex(code),
      codeExpiresAt: new Date(now.getTime() + CODE_TTL_MS),
    },
    filter: { revoked: false, granted: false, codeHash: { $exists: false } },
    now,
  });
  if (!updated) {
    throw badRequest('Login already completed: sign in again', 'login');
  }
  return { login: login._id, code };
}

/**
 * Continues a sign-in whose password (and MFA step, if any) is done: one membership gives
 * `{ login, code }`, several give `{ login, memberships }` to choose from with /auth/profile;
 * a membership that requires MFA gives its MFA step first (issueCode). `credentials`: the account's
 * credentials when this request already read them (the password step). The MFA endpoints call
 * this after a correct TOTP code (with `mfaVerified` set on the login): a membership chosen
 * before that step then gets its code.
 */
export async function continueLogin(ctx: AccountsContext, loginId: string, credentials?: CredentialsDoc): Promise<LoginResponse | Record<string, unknown>> {
  const login = await readPendingLogin(ctx, loginId);
  const memberships = await membershipsOf(ctx, `User/${login.userId}`, membershipQuery(login));
  if (memberships.length === 0) {
    throw badRequest('This account is no longer a member of any matching project', 'login');
  }
  const chosen = memberships.find((m) => m.id === login.pendingMembershipId);
  if (chosen) {
    return issueCode(ctx, login, chosen, credentials);
  }
  if (memberships.length === 1) {
    return issueCode(ctx, login, memberships[0], credentials);
  }
  return { login: login._id, memberships: await describeMemberships(ctx, memberships) };
}

/**
 * POST /auth/profile: picks one of the login's memberships (by id) and answers `{ login, code }`,
 * or the MFA step when that membership requires MFA and the sign-in has not passed it.
 */
export async function chooseProfile(ctx: AccountsContext, loginId: string, membershipId: string): Promise<LoginResponse | Record<string, unknown>> {
  const login = await readPendingLogin(ctx, loginId);
  const memberships = await membershipsOf(ctx, `User/${login.userId}`, membershipQuery(login));
  const membership = memberships.find((m) => m.id === membershipId);
  if (!membership) {
    throw badRequest('Profile not found: choose one of the memberships the login answered', 'profile');
  }
  return issueCode(ctx, login, membership);
}

import { randomBytes } from 'node:crypto';
import type { AccessPolicy, ClientApplication, Project, ProjectMembership, Reference } from '@medplum/fhirtypes';
import { newId } from '../clock';
import type { Store } from '../db/store';
import { withTransaction } from '../db/transaction';
import { badRequest, notFound } from '../errors';
import { createResource, idOf, readCurrent, type RepoContext } from '../fhir/repository';
import { actorOf, type AccountsContext, type AuthContext } from './auth-context';
import { insertCredentials, readCredentials } from './credentials';
import { assertCurrentProjectAdmin, grantsSuperAdmin, membershipsOf, projectOf } from './memberships';
import { matchesHash, sha256Hex } from './passwords';

/**
 * System clients (ClientApplication with a generated secret): creating one, and checking a
 * client id and secret (HTTP Basic, client_credentials).
 */

export interface CreateClientInput {
  name: string;
  description?: string;
  redirectUri?: string;
  accessPolicy?: Reference;
}

/** The ClientApplication as answered once, with its secret (never stored in the resource). */
export type CreatedClient = ClientApplication & { secret: string };

const NOT_ADMIN = 'Only an administrator of this project can create its clients';

/**
 * POST /admin/projects/{id}/client: a system client (e.g. a federating server). Creates the
 * ClientApplication, the hash of its generated secret and its ProjectMembership (with the
 * optional access policy) in one transaction, and answers the secret this one time only.
 */
export async function createClientApplication(ctx: AccountsContext, auth: AuthContext, projectId: string, input: CreateClientInput): Promise<CreatedClient> {
  // The membership as stored now, not the token's claims: a demoted administrator is refused.
  await assertCurrentProjectAdmin(ctx, auth, projectId, NOT_ADMIN);
  const project = await readCurrent<Project>(ctx, 'Project', projectId);
  if (!project) {
    throw notFound(`Project/${projectId} not found`);
  }
  const name = input.name.trim();
  if (!name) {
    throw badRequest('name must not be empty', 'name');
  }
  let accessPolicy: Reference<AccessPolicy> | undefined;
  if (input.accessPolicy) {
    const policyId = idOf(input.accessPolicy, 'AccessPolicy');
    const policy = await readCurrent<AccessPolicy>(ctx, 'AccessPolicy', policyId);
    if (!policy || policy.meta?.project !== projectId) {
      throw badRequest('accessPolicy must reference an AccessPolicy of this project, e.g. "AccessPolicy/123"', 'accessPolicy');
    }
    accessPolicy = { reference: `AccessPolicy/${policyId}`, ...(policy.name ? { display: policy.name } : {}) };
  }

  const secret = randomBytes(32).toString('hex');
  const clientId = newId();
  const client = await withTransaction(ctx.database, async (session) => {
    const repo: RepoContext = { database: ctx.database, clock: ctx.clock, session, profiles: ctx.definitions.profiles, listeners: ctx.listeners, actor: actorOf(auth), operation: 'create' };
    const author = auth.profile;
    const created = await createResource<ClientApplication>(
      repo,
      {
        resourceType: 'ClientApplication',
        name,
        ...(input.description ? { description: input.description } : {}),
        ...(input.redirectUri ? { redirectUri: input.redirectUri } : {}),
      },
      { project: projectId, author },
      clientId,
    );
    await insertCredentials(ctx.database, session, { _id: clientId, clientSecretHash: sha256Hex(secret) });
    await createResource<ProjectMembership>(
      repo,
      {
        resourceType: 'ProjectMembership',
        project: { reference: `Project/${projectId}`, ...(project.name ? { display: project.name } : {}) },
        user: { reference: `ClientApplication/${clientId}`, display: name },
        profile: { reference: `ClientApplication/${clientId}`, display: name },
        ...(accessPolicy ? { accessPolicy } : {}),
      },
      { project: projectId, author },
    );
    return created;
  });
  return { ...client, secret };
}

// --- Client authentication ---------------------------------------------------------------------

export interface ClientCredentials {
  clientId: string;
  clientSecret: string;
}

/** Decodes an HTTP Basic value (base64 of "id:secret"); undefined when malformed. */
export function parseBasic(value: string): ClientCredentials | undefined {
  let decoded: string;
  try {
    decoded = Buffer.from(value.trim(), 'base64').toString('utf8');
  } catch {
    return undefined;
  }
  const colon = decoded.indexOf(':');
  if (colon <= 0) {
    return undefined;
  }
  return { clientId: decoded.slice(0, colon), clientSecret: decoded.slice(colon + 1) };
}

/** Why a client could not authenticate; `message` is safe to show, and the same for every cause. */
export class ClientAuthError extends Error {}

/** The one answer to any refused client id and secret: which part was wrong is never told. */
export const INVALID_CLIENT = 'Invalid client';

/** Compared against when the client does not exist or cannot sign in, so every refusal does the same work. */
const DUMMY_SECRET_HASH = sha256Hex('no ClientApplication has this secret');

export interface AuthenticatedClient {
  client: ClientApplication;
  auth: Omit<AuthContext, 'loginId'>;
}

/**
 * Checks a ClientApplication id and secret (stored hashed in credentials) and finds the
 * client's membership: the project it acts in, with that membership's rights. An unknown or
 * inactive client and a wrong secret are refused alike (same ClientAuthError, same reads and the
 * same hash comparison, against a dummy hash when there is no stored one).
 */
export async function authenticateClient(ctx: Store, credentials: ClientCredentials): Promise<AuthenticatedClient> {
  const { clientId, clientSecret } = credentials;
  if (!clientId || clientId.length > 128) {
    throw new ClientAuthError(INVALID_CLIENT);
  }
  const client = await readCurrent<ClientApplication>(ctx, 'ClientApplication', clientId);
  const stored = await readCredentials(ctx.database, clientId);
  const usable = !!client && (!client.status || client.status === 'active') && typeof stored?.clientSecretHash === 'string';
  const secretMatches = matchesHash(clientSecret ?? '', usable ? stored?.clientSecretHash : DUMMY_SECRET_HASH);
  if (!client || !usable || !secretMatches || !clientSecret) {
    throw new ClientAuthError(INVALID_CLIENT);
  }
  const [membership] = await membershipsOf(ctx, `ClientApplication/${clientId}`);
  const project = membership ? await projectOf(ctx, membership) : undefined;
  if (!membership || !project) {
    throw new ClientAuthError(INVALID_CLIENT);
  }
  return {
    client,
    auth: {
      userId: clientId,
      userType: 'ClientApplication',
      projectId: project.id as string,
      membershipId: membership.id as string,
      profile: membership.profile ?? { reference: `ClientApplication/${clientId}` },
      projectAdmin: membership.admin === true,
      superAdmin: grantsSuperAdmin(project, membership),
    },
  };
}

import type { ClientApplication } from '@medplum/fhirtypes';
import type { AuthContext } from './auth-context';
import { readCredentials } from './credentials';
import { grantsSuperAdmin, membershipsOf, projectOf, readCurrent, type ReadContext } from './memberships';
import { matchesHash, sha256Hex } from './secrets';

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
export async function authenticateClient(ctx: ReadContext, credentials: ClientCredentials): Promise<AuthenticatedClient> {
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

import type { ClientApplication } from '@medplum/fhirtypes';
import type { AuthContext } from './auth-context';
import { readCredentials } from './credentials';
import { grantsSuperAdmin, membershipsOf, projectOf, readCurrent, type ReadContext } from './memberships';
import { matchesHash } from './secrets';

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

/** Why a client could not authenticate; `message` is safe to show. */
export class ClientAuthError extends Error {}

export interface AuthenticatedClient {
  client: ClientApplication;
  auth: Omit<AuthContext, 'loginId'>;
}

/**
 * Checks a ClientApplication id and secret (stored hashed in credentials) and finds the
 * client's membership: the project it acts in, with that membership's rights.
 */
export async function authenticateClient(ctx: ReadContext, credentials: ClientCredentials): Promise<AuthenticatedClient> {
  const { clientId, clientSecret } = credentials;
  if (!clientId || clientId.length > 128) {
    throw new ClientAuthError('Invalid client');
  }
  const client = await readCurrent<ClientApplication>(ctx, 'ClientApplication', clientId);
  if (!client || (client.status && client.status !== 'active')) {
    throw new ClientAuthError('Invalid client');
  }
  const stored = await readCredentials(ctx.database, clientId);
  if (!clientSecret || !matchesHash(clientSecret, stored?.clientSecretHash)) {
    throw new ClientAuthError('Invalid secret');
  }
  const [membership] = await membershipsOf(ctx, `ClientApplication/${clientId}`);
  const project = membership ? await projectOf(ctx, membership) : undefined;
  if (!membership || !project) {
    throw new ClientAuthError('Invalid client');
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

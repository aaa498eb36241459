import type { IndexSpecs } from '../db/indexes';
import { LOGINS } from './login-store';
import { SECURITY_EVENTS } from './security-events';

export function authIndexes(): IndexSpecs {
  return {
    [LOGINS]: [
      // Finding a login by its authorization code; the code is stored hashed.
      { key: { codeHash: 1 }, name: 'code_hash', unique: true, partialFilterExpression: { codeHash: { $exists: true } } },
      { key: { userId: 1, createdAt: -1 } },
      // Open sessions through a membership, into a project or via an OAuth client: revoked when
      // those are deleted or deactivated (src/access/account-removal.ts).
      { key: { membershipId: 1 }, name: 'open_by_membership', partialFilterExpression: { revoked: false } },
      { key: { projectId: 1 }, name: 'open_by_project', partialFilterExpression: { revoked: false } },
      { key: { clientId: 1 }, name: 'open_by_client', partialFilterExpression: { revoked: false } },
      // Ended sessions are purged by MongoDB (the embedded engine may ignore TTL; harmless).
      { key: { expiresAt: 1 }, name: 'expires_at_ttl', expireAfterSeconds: 7 * 86400 },
    ],
    // The audit trail of one account, in time order.
    [SECURITY_EVENTS]: [{ key: { userId: 1, at: 1 }, name: 'security_events_user_at' }],
    // Memberships of a user or client at sign-in.
    ProjectMembership: [{ key: { 'resource.user.reference': 1 }, name: 'auth_membership_user' }],
  };
}

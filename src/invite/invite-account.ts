import type { User } from '@medplum/fhirtypes';
import { clearSecrets } from '../accounts/credentials';
import { revokeUserSessions } from '../accounts/sessions';
import type { RepoContext } from '../fhir/repository';

/**
 * The account-verification rule, for an invite of an EXISTING User.
 *
 * A server-scoped account can join any project, so only the owner of its email may hold its
 * password. Its email is verified (`User.emailVerified`) once someone used an activation link
 * that was MAILED to that address (accounts/set-password.ts); a link handed back to an administrator
 * (`sendEmail: false`) sets a password but verifies nothing, and administrators cannot choose
 * the password of a server-scoped account at all (invite-request.ts).
 *
 * Inviting an unverified server-scoped account into a project it is not a member of yet
 * therefore reclaims it for its owner, in the invite's transaction: its password and MFA secrets
 * (which whoever activated it may know) are cleared, every sign-in session ends, every earlier
 * activation link is superseded and a fresh link is MAILED (whatever `sendEmail` says; the answer
 * then has emailStatus "queued" and no activationUrl). Re-inviting into a project it already
 * belongs to, and inviting a verified account, change nothing of its credentials.
 */
export function mustReclaim(user: User, alreadyMember: boolean): boolean {
  return !user.project && user.emailVerified !== true && !alreadyMember;
}

/**
 * Clears the password and MFA secrets of the account and revokes its open sign-in sessions, in
 * the invite's transaction; answers the ids of the sessions ended (to tell this instance's cache
 * once committed). Superseding the earlier links is done by the fresh activation (supersedeAll).
 */
export async function clearUnverifiedCredentials(repo: RepoContext, userId: string): Promise<string[]> {
  const session = repo.session;
  if (!session) {
    throw new Error('clearUnverifiedCredentials runs inside the invite transaction');
  }
  await clearSecrets(repo.database, session, userId);
  return revokeUserSessions(repo.database, session, userId, repo.clock.now());
}

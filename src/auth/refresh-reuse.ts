import type { AppContext } from '../app-context';
import type { LoginDoc } from './login-store';
import { recordSecurityEvent } from './security-events';

/** The answer to a reused refresh token (as an OAuth invalid_grant). */
export const REUSED_REFRESH_TOKEN = 'Invalid refresh token: it was already used (each refresh token works once). This sign-in has been ended: sign in again';

/**
 * A refresh token was presented after it had been rotated (or twice at once): someone holds a
 * copy. As with a replayed authorization code, the whole sign-in session ends: every access and
 * refresh token issued from it stops working, the newest included. Logged at warn and kept in
 * the security trail, never with the token.
 */
export async function endReusedLogin(ctx: AppContext, login: LoginDoc, remoteAddress: string | undefined): Promise<void> {
  await ctx.auth.revokeLogin(login._id);
  ctx.log.warn({ loginId: login._id, userId: login.userId }, 'a rotated refresh token was used again: the sign-in session is revoked');
  await recordSecurityEvent(ctx.database, {
    type: 'refresh-token-reuse',
    at: ctx.clock.now(),
    userId: login.userId,
    loginId: login._id,
    ...(remoteAddress ? { remoteAddress } : {}),
  });
}

import type { User } from '@medplum/fhirtypes';
import type { AppContext } from '../app-context';
import type { LoginDoc } from './login-store';
import { readUserCredentials } from './mfa-credentials';
import { enrollmentOffer } from './mfa-service';
import { isEnrolled } from './mfa-store';

/**
 * The MFA step after a correct password. Answers the response body of that step, or undefined
 * when no MFA step is needed and the sign-in continues to the code:
 * - enrolled (a confirmed TOTP secret) → `{ login, mfaRequired: true }`, finished by /auth/mfa/verify;
 * - `User.mfaRequired` (or `mfaEnrolled` without a stored secret) but not enrolled →
 *   `{ login, mfaEnrollRequired: true, enrollUri, enrollQrCode }`
 *   (the only response that carries the pending secret), finished by /auth/mfa/login-enroll.
 * The login document is already stored when this runs; the caller marks it `mfaRequired` when a
 * body is returned, and `continueLogin` (login-flow.ts) refuses to issue a code until `mfaVerified`.
 * `required`: MFA is demanded by the chosen membership (auth/membership-mfa.ts), not by the User.
 */
export async function mfaGate(ctx: AppContext, login: LoginDoc, user: User, required = false): Promise<Record<string, unknown> | undefined> {
  if (login.userType !== 'User' || !user.id) {
    return undefined;
  }
  const credentials = await readUserCredentials(ctx.database, user.id);
  if (isEnrolled(credentials)) {
    return { login: login._id, mfaRequired: true };
  }
  // A User marked enrolled without a stored secret (e.g. imported) fails closed: it must enroll.
  if (required || user.mfaRequired || user.mfaEnrolled) {
    return { login: login._id, mfaEnrollRequired: true, ...(await enrollmentOffer(ctx, user)) };
  }
  return undefined;
}

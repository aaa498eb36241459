import type { AppContext } from '../app-context';
import type { AuthContext } from '../auth/auth-context';
import { defaultScope, type AccessScope } from './access-scope';

/**
 * The caller's access for this request: project confinement plus the membership's
 * AccessPolicy. INTERIM: project confinement only, until policies are evaluated.
 */
export async function resolveAccessScope(_ctx: AppContext, auth: AuthContext): Promise<AccessScope> {
  return defaultScope(auth);
}

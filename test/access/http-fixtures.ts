import type { AccessPolicyResource } from '@medplum/fhirtypes';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { signIn, type SignedIn } from '../helpers/auth';
import { createAccount, passwordHashOf } from '../helpers/fixtures';
import { makeMember, makePolicy } from './fixtures';

export interface Member {
  userId: string;
  email: string;
  password: string;
  membershipId: string;
  session: SignedIn;
}

export interface MemberSpec {
  key: string;
  profile: string;
  admin?: boolean;
  policy?: AccessPolicyResource[];
}

/** A server-scoped user with a password and one membership in the project, signed in. */
export async function signedInMember(app: FastifyInstance, project: string, spec: MemberSpec): Promise<Member & { passwordHash: string }> {
  const email = `${spec.key.toLowerCase()}@example.com`;
  const password = `pw-${spec.key}-Correct-Horse-9`;
  const user = await createAccount(app, { email, password, firstName: spec.key, lastName: 'Test', emailVerified: true });
  const passwordHash = await passwordHashOf(password);
  const accessPolicy = spec.policy ? await makePolicy(app, project, `${spec.key} policy`, spec.policy) : undefined;
  const { membership } = await makeMember(app, project, { profile: spec.profile, user: `User/${user.id}`, admin: spec.admin, accessPolicy });
  const session = await signIn(app, email, password);
  return { userId: user.id, email, password, passwordHash, membershipId: membership.id, session };
}

export interface Answer {
  status: number;
  body: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  json: any;
}

/** Sends requests and keeps every response body, for the "no secret anywhere" scan. */
export class Recorder {
  readonly bodies: string[] = [];

  constructor(private readonly app: FastifyInstance) {}

  async call(who: Member | { session: SignedIn }, method: InjectOptions['method'], url: string, payload?: object, headers: Record<string, string> = {}): Promise<Answer> {
    const res = await this.app.inject({
      method,
      url: `/fhir/R4/${url}`,
      headers: { ...who.session.headers, ...(payload ? { 'content-type': 'application/fhir+json' } : {}), ...headers },
      payload: payload ? JSON.stringify(payload) : undefined,
    });
    this.bodies.push(res.body);
    let json: unknown;
    try {
      json = res.json();
    } catch {
      json = undefined;
    }
    return { status: res.statusCode, body: res.body, json };
  }
}

/** The ids of the resources in a searchset Bundle. */
export function idsIn(bundle: { entry?: { resource?: { id?: string } }[] }): string[] {
  return (bundle.entry ?? []).map((e) => e.resource?.id as string).sort();
}

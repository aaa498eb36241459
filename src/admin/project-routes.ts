import type { Filter } from 'mongodb';
import type { ClientApplication, HumanName, Project, ProjectMembership, Reference, User } from '@medplum/fhirtypes';
import type { FastifyPluginAsync } from 'fastify';
import type { AppContext } from '../app-context';
import type { AuthContext } from '../accounts/auth-context';
import { CREDENTIALS, type CredentialsDoc } from '../accounts/credentials';
import { assertCurrentProjectAdmin, membershipRequiresMfa } from '../accounts/memberships';
import { isEnrolled } from '../accounts/mfa';
import { notFound, unauthorized } from '../errors';
import { readCurrent, type StoredResource } from '../fhir/repository';
import { currentCollection } from '../fhir/resource-types';
import { inviteStatusOf, RESENDABLE_STATUSES, type InviteStatus } from '../invite/invite-status';

/**
 * GET /admin/projects/{projectId}: the project and a page of its members, shaped like Medplum's
 * `GET /admin/projects/:projectId` (`{ project, members }`, each member with `membershipId`,
 * `profile`, `user`, `name`, `accessPolicy`, `role`) plus what an administrator needs to see of
 * each account: email, admin flag, account scope, MFA (required, enrolled) and invite status.
 * Project administrators of that project and the super administrator only (checked against the
 * stored membership, not the token's claims). Built field by field: a member's password, MFA
 * secret or any other credential is never read into the answer, and a server-scoped `User` (which
 * a project administrator may not read as a resource) shows only its email, name and MFA state.
 */

export const MAX_MEMBERS_PAGE = 100;
const DEFAULT_MEMBERS_PAGE = 50;
const PROFILE_TYPES = ['Practitioner', 'Patient', 'RelatedPerson'] as const;

export interface MemberSummary {
  membershipId: string;
  /** `Practitioner/{id}` etc. */
  profile?: string;
  profileType?: string;
  /** `User/{id}` or `ClientApplication/{id}`. */
  user?: string;
  userType?: 'User' | 'ClientApplication';
  name?: string;
  email?: string;
  accessPolicy?: Reference;
  /** Medplum's role: the project's owner, an administrator, or a member. */
  role: 'owner' | 'admin' | 'member';
  admin: boolean;
  active: boolean;
  /** A User scoped to this project, or a server-wide one (absent for a client). */
  accountScope?: 'project' | 'server';
  mfaRequired: boolean;
  mfaEnrolled: boolean;
  inviteStatus?: InviteStatus;
  /** What the Users tab may offer: `resend` ($resend-invite) and `revoke` ($revoke-invite). */
  inviteActions: Array<'resend' | 'revoke'>;
}

export interface ProjectMembers {
  project: { id: string; name?: string; description?: string };
  members: MemberSummary[];
  /** Members of the project in all. */
  total: number;
  offset: number;
  count: number;
}

type Stored<T> = StoredResource & { resource: T };

const referenceSchema = { type: 'object', additionalProperties: false, properties: { reference: { type: 'string' }, display: { type: 'string' } } };

/** The answer's schema: also an allow-list, since Fastify serializes only these fields. */
const responseSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['project', 'members', 'total', 'offset', 'count'],
  properties: {
    project: { type: 'object', additionalProperties: false, required: ['id'], properties: { id: { type: 'string' }, name: { type: 'string' }, description: { type: 'string' } } },
    members: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['membershipId', 'role', 'admin', 'active', 'mfaRequired', 'mfaEnrolled', 'inviteActions'],
        properties: {
          membershipId: { type: 'string' },
          profile: { type: 'string' },
          profileType: { type: 'string' },
          user: { type: 'string' },
          userType: { type: 'string', enum: ['User', 'ClientApplication'] },
          name: { type: 'string' },
          email: { type: 'string' },
          accessPolicy: referenceSchema,
          role: { type: 'string', enum: ['owner', 'admin', 'member'] },
          admin: { type: 'boolean' },
          active: { type: 'boolean' },
          accountScope: { type: 'string', enum: ['project', 'server'] },
          mfaRequired: { type: 'boolean' },
          mfaEnrolled: { type: 'boolean' },
          inviteStatus: { type: 'string', enum: ['pending', 'accepted', 'expired', 'revoked'] },
          inviteActions: { type: 'array', items: { type: 'string', enum: ['resend', 'revoke'] } },
        },
      },
    },
    total: { type: 'integer' },
    offset: { type: 'integer' },
    count: { type: 'integer' },
  },
};

const routeSchema = {
  tags: ['admin'],
  summary: 'The project and a page of its members (project administrators and the super administrator)',
  description:
    'Members sorted by name, `_count` (1–100, default 50) from `_offset`. Each member: membership, profile, user, name, email, role, admin, account scope, MFA required/enrolled, invite status. No credential is ever included.',
  params: { type: 'object', required: ['projectId'], properties: { projectId: { type: 'string', pattern: '^[A-Za-z0-9\\-.]{1,64}$' } } },
  querystring: {
    type: 'object',
    additionalProperties: false,
    properties: {
      _count: { type: 'integer', minimum: 1, maximum: MAX_MEMBERS_PAGE, default: DEFAULT_MEMBERS_PAGE },
      _offset: { type: 'integer', minimum: 0, maximum: 1_000_000, default: 0 },
    },
  },
  security: [{ bearer: [] }],
  response: { 200: responseSchema },
};

function idOfRef(reference: string | undefined, type: string): string | undefined {
  if (!reference?.startsWith(`${type}/`)) {
    return undefined;
  }
  const id = reference.slice(type.length + 1);
  return id && !id.includes('/') ? id : undefined;
}

function nameOf(names: HumanName[] | undefined): string | undefined {
  const name = names?.[0];
  const text = name?.text ?? [...(name?.given ?? []), name?.family].filter(Boolean).join(' ');
  return text?.trim() || undefined;
}

/** Current, not deleted documents of `type` by id (optionally owned by `project`), by id. */
async function byIds<T>(ctx: AppContext, type: string, ids: Iterable<string>, project?: string): Promise<Map<string, T>> {
  const list = [...new Set(ids)];
  if (list.length === 0) {
    return new Map();
  }
  const filter = { _id: { $in: list }, deleted: false, ...(project ? { project } : {}) } as Filter<StoredResource>;
  const docs = (await ctx.database.db.collection<StoredResource>(currentCollection(type)).find(filter).toArray()) as Stored<T>[];
  return new Map(docs.map((d) => [d._id, d.resource]));
}

/** Which of these users have confirmed an MFA secret (read only to answer yes or no). */
async function enrolledUsers(ctx: AppContext, userIds: string[]): Promise<Set<string>> {
  if (userIds.length === 0) {
    return new Set();
  }
  const docs = await ctx.database.db.collection<CredentialsDoc>(CREDENTIALS).find({ _id: { $in: userIds } }).toArray();
  return new Set(docs.filter((d) => isEnrolled(d)).map((d) => d._id));
}

function roleOf(project: Project, membership: ProjectMembership): MemberSummary['role'] {
  if (project.owner?.reference && membership.user?.reference === project.owner.reference) {
    return 'owner';
  }
  return membership.admin ? 'admin' : 'member';
}

async function listMembers(ctx: AppContext, projectId: string, count: number, offset: number): Promise<ProjectMembers> {
  const project = await readCurrent<Project>(ctx, 'Project', projectId);
  if (!project) {
    throw notFound(`Project ${projectId} not found`);
  }
  const filter = { project: projectId, deleted: false, 'resource.project.reference': `Project/${projectId}` } as Filter<StoredResource>;
  const collection = ctx.database.db.collection<StoredResource>(currentCollection('ProjectMembership'));
  const total = await collection.countDocuments(filter);
  const docs = (await collection.find(filter).sort({ 'resource.profile.display': 1, _id: 1 }).skip(offset).limit(count).toArray()) as Stored<ProjectMembership>[];
  const memberships = docs.map((d) => d.resource);

  const userIds = memberships.map((m) => idOfRef(m.user?.reference, 'User')).filter((id): id is string => Boolean(id));
  const clientIds = memberships.map((m) => idOfRef(m.user?.reference, 'ClientApplication')).filter((id): id is string => Boolean(id));
  const users = await byIds<User>(ctx, 'User', userIds);
  const clients = await byIds<ClientApplication>(ctx, 'ClientApplication', clientIds, projectId);
  const enrolled = await enrolledUsers(ctx, [...users.keys()]);
  const profiles = new Map<string, { name?: HumanName[] }>();
  for (const type of PROFILE_TYPES) {
    const ids = memberships.map((m) => idOfRef(m.profile?.reference, type)).filter((id): id is string => Boolean(id));
    // Only profiles of this project: a membership pointing elsewhere must not reveal that resource.
    for (const [id, resource] of await byIds<{ name?: HumanName[] }>(ctx, type, ids, projectId)) {
      profiles.set(`${type}/${id}`, resource);
    }
  }

  const now = ctx.clock.now();
  const members = memberships.map((m): MemberSummary => {
    const userId = idOfRef(m.user?.reference, 'User');
    const clientId = idOfRef(m.user?.reference, 'ClientApplication');
    const user = userId ? users.get(userId) : undefined;
    const client = clientId ? clients.get(clientId) : undefined;
    const profileRef = m.profile?.reference;
    const profile = profileRef ? profiles.get(profileRef) : undefined;
    const inviteStatus = inviteStatusOf(m, now);
    const name = nameOf(profile?.name) ?? client?.name ?? m.profile?.display ?? ([user?.firstName, user?.lastName].filter(Boolean).join(' ') || undefined);
    const summary: MemberSummary = {
      membershipId: m.id as string,
      role: roleOf(project, m),
      admin: m.admin === true,
      active: m.active !== false,
      mfaRequired: user?.mfaRequired === true || membershipRequiresMfa(m),
      mfaEnrolled: userId !== undefined && enrolled.has(userId),
      inviteActions: inviteStatus && RESENDABLE_STATUSES.includes(inviteStatus) ? ['resend', 'revoke'] : [],
    };
    if (profileRef) {
      summary.profile = profileRef;
      summary.profileType = profileRef.split('/')[0];
    }
    if (userId || clientId) {
      summary.user = m.user?.reference;
      summary.userType = userId ? 'User' : 'ClientApplication';
    }
    if (name) {
      summary.name = name;
    }
    if (user?.email) {
      summary.email = user.email;
    }
    if (user) {
      summary.accountScope = user.project?.reference ? 'project' : 'server';
    }
    if (m.accessPolicy?.reference) {
      summary.accessPolicy = { reference: m.accessPolicy.reference, ...(m.accessPolicy.display ? { display: m.accessPolicy.display } : {}) };
    }
    if (inviteStatus) {
      summary.inviteStatus = inviteStatus;
    }
    return summary;
  });
  const projectOut: ProjectMembers['project'] = { id: projectId };
  if (project.name) {
    projectOut.name = project.name;
  }
  if (project.description) {
    projectOut.description = project.description;
  }
  return { project: projectOut, members, total, offset, count: members.length };
}

/** GET /admin/projects/{projectId}. */
export const adminProjectRoutes: FastifyPluginAsync<{ ctx: AppContext }> = async (app, { ctx }) => {
  app.get<{ Params: { projectId: string }; Querystring: { _count: number; _offset: number } }>(
    '/admin/projects/:projectId',
    { schema: routeSchema, preHandler: ctx.auth.authenticateHook },
    async (request, reply) => {
      const auth = request.auth as AuthContext | undefined;
      if (!auth) {
        throw unauthorized();
      }
      const { projectId } = request.params;
      await assertCurrentProjectAdmin(ctx, auth, projectId, 'Only administrators of this project may list its members');
      reply.header('cache-control', 'no-store');
      return listMembers(ctx, projectId, request.query._count, request.query._offset);
    },
  );
};

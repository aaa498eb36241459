import { randomBytes } from 'node:crypto';
import type { AccessPolicy, ClientApplication, Project, ProjectMembership, Reference } from '@medplum/fhirtypes';
import type { AppContext } from '../app-context';
import { newId } from '../clock';
import { withTransaction } from '../db/transaction';
import { badRequest, notFound } from '../errors';
import { createResource, type RepoContext } from '../fhir/repository';
import type { AuthContext } from './auth-context';
import { CREDENTIALS, type CredentialsDoc } from './credentials';
import { assertCurrentProjectAdmin, idOf, readCurrent } from './memberships';
import { sha256Hex } from './secrets';

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
export async function createClientApplication(ctx: AppContext, auth: AuthContext, projectId: string, input: CreateClientInput): Promise<CreatedClient> {
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
    const repo: RepoContext = { database: ctx.database, clock: ctx.clock, session, profiles: ctx.definitions.profiles };
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
    await ctx.database.db.collection<CredentialsDoc>(CREDENTIALS).insertOne({ _id: clientId, clientSecretHash: sha256Hex(secret) }, { session });
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

import type { AccessPolicy, ClientApplication, ProjectMembership, Reference, User } from '@medplum/fhirtypes';
import type { ChangeListener, ResourceChange } from '../fhir/changes';
import type { AuditEntityInput, AuditKind, AuditRecord, EntityDetail } from './audit-event';
import type { AuditTrail } from './trail';

/**
 * The change listener of the audit trail: in the transaction of every resource change, the
 * events about it (so they commit or roll back with it):
 * - a ProjectMembership written by Project/$invite, $resend-invite or $revoke-invite: that
 *   operation's event (role, scope, admin, mfaRequired, emailStatus for the invite);
 * - any other ProjectMembership create, update or delete (REST, Bundle, admin routes, account
 *   cascades): membership-create/update/delete, plus admin-changed and membership-policy-changed
 *   when the admin flag or the access policy changed;
 * - AccessPolicy create/update/delete; ClientApplication create;
 * - a User whose MFA enrollment flag changed: mfa-enrolled or mfa-disabled.
 * The activation (password set) writes its own event (accounts/set-password.ts): the memberships
 * it accepts are not reported again. Secrets never appear: only references and plain flags.
 */

const ref = (type: string, id: string): Reference => ({ reference: `${type}/${id}` });

function interactionOf(change: ResourceChange): 'create' | 'update' | 'delete' {
  if (change.method === 'DELETE') {
    return 'delete';
  }
  return change.before ? 'update' : 'create';
}

function policyOf(membership: ProjectMembership | undefined): string | undefined {
  if (!membership) {
    return undefined;
  }
  const refs = [membership.accessPolicy?.reference, ...(membership.access ?? []).map((a) => a.policy?.reference)].filter((r): r is string => typeof r === 'string');
  return refs.length > 0 ? refs.join(',') : undefined;
}

function membershipEntities(change: ResourceChange, extra: EntityDetail = {}): AuditEntityInput[] {
  const membership = (change.after ?? change.before) as ProjectMembership;
  const entities: AuditEntityInput[] = [
    {
      what: ref('ProjectMembership', change.id),
      role: '13',
      detail: {
        role: membership.profile?.reference?.split('/')[0],
        admin: membership.admin === true,
        accessPolicy: policyOf(membership),
        ...extra,
      },
    },
  ];
  if (membership.user?.reference) {
    entities.push({ what: { reference: membership.user.reference }, role: '11' });
  }
  if (membership.profile?.reference) {
    entities.push({ what: { reference: membership.profile.reference }, role: '6' });
  }
  return entities;
}

function membershipRecords(change: ResourceChange): AuditRecord[] {
  const base = { actor: change.actor, project: change.project };
  const operation = change.operation;
  if (operation === 'invite' || operation === 'resend-invite' || operation === 'revoke-invite') {
    const detail: EntityDetail = operation === 'invite' ? { ...change.detail, membershipCreated: !change.before } : {};
    return [{ ...base, kind: operation, entities: membershipEntities(change, detail) }];
  }
  if (operation === 'activation' || (operation === 'account' && change.method !== 'DELETE')) {
    // The activation's own event covers it; an invitation accepted at sign-in is the sign-in's.
    return [];
  }
  const interaction = interactionOf(change);
  const records: AuditRecord[] = [{ ...base, kind: `membership-${interaction}`, entities: membershipEntities(change) }];
  const before = change.before as ProjectMembership | undefined;
  const after = change.after as ProjectMembership | undefined;
  if (before && after && (before.admin === true) !== (after.admin === true)) {
    records.push({ ...base, kind: 'admin-changed', entities: membershipEntities(change, { adminBefore: before.admin === true }) });
  }
  if (before && after && policyOf(before) !== policyOf(after)) {
    records.push({ ...base, kind: 'membership-policy-changed', entities: membershipEntities(change, { accessPolicyBefore: policyOf(before) ?? 'none' }) });
  }
  return records;
}

function recordsOf(change: ResourceChange): AuditRecord[] {
  const base = { actor: change.actor, project: change.project, interaction: undefined };
  switch (change.type) {
    case 'ProjectMembership':
      return membershipRecords(change);
    case 'AccessPolicy': {
      const policy = (change.after ?? change.before) as AccessPolicy;
      const kind: AuditKind = `access-policy-${interactionOf(change)}`;
      return [{ ...base, kind, entities: [{ what: ref('AccessPolicy', change.id), role: '13', detail: { name: policy.name } }] }];
    }
    case 'ClientApplication': {
      if (interactionOf(change) !== 'create') {
        return [];
      }
      const client = change.after as ClientApplication;
      return [{ ...base, kind: 'client-create', entities: [{ what: ref('ClientApplication', change.id), role: '13', detail: { name: client.name } }] }];
    }
    case 'User': {
      const before = (change.before as User | undefined)?.mfaEnrolled === true;
      const after = (change.after as User | undefined)?.mfaEnrolled === true;
      if (before === after || !change.after) {
        return [];
      }
      // The user's own change: its project (a project-scoped user) or the server's (super admin only).
      const project = (change.after as User).project?.reference?.split('/')[1];
      return [{ ...base, project, kind: after ? 'mfa-enrolled' : 'mfa-disabled', entities: [{ what: ref('User', change.id), role: '11' }] }];
    }
    default:
      return [];
  }
}

/** See the comment at the top of this file. */
export function auditListener(trail: AuditTrail): ChangeListener {
  return async (change) => {
    if (!trail.enabled) {
      return;
    }
    for (const record of recordsOf(change)) {
      await trail.write(change.session, record);
    }
  };
}

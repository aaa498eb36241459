import type { AuditEvent, AuditEventAgent, AuditEventEntity, Coding, Reference } from '@medplum/fhirtypes';
import type { Actor } from '../fhir/changes';

/**
 * audit/ — domain layer: the audit trail. Every security-relevant action becomes one R4
 * AuditEvent shaped after the IHE Basic Audit Log Patterns (BALP): `type`/`subtype` from the DICOM
 * and HL7 audit vocabularies (plus this server's own subtype code naming the action precisely),
 * `action`, `recorded`, `outcome` with its description, an agent for the user or client
 * (`requestor: true`, its profile reference as `who`, its User or ClientApplication as `altId`),
 * an agent for this server, `source` and an `entity` per resource touched. Codings carry no
 * `display` (but the event type's): events are kept for years and the embedded engine's cost
 * grows with the size of what it stores; the codes and AUDIT_KINDS say what they mean. It never holds a
 * secret (no password, hash, token, activation or MFA secret, TOTP code) nor an email address.
 *
 * This file builds the resources; audit-store.ts writes them; audit-listener.ts turns resource
 * changes into them; services.ts is what the rest of the server calls.
 */

export const DCM = 'http://dicom.nema.org/resources/ontology/DCM';
export const AUDIT_EVENT_TYPE = 'http://terminology.hl7.org/CodeSystem/audit-event-type';
export const RESTFUL_INTERACTION = 'http://hl7.org/fhir/restful-interaction';
/** This server's subtype codes: one per kind of event (see AUDIT_KINDS). */
export const SUBTYPE_SYSTEM = 'https://fhir-invite-server.example/fhir/CodeSystem/audit-event-subtype';
const OBJECT_ROLE = 'http://terminology.hl7.org/CodeSystem/object-role';
const ENTITY_TYPE = 'http://terminology.hl7.org/CodeSystem/audit-entity-type';
const SOURCE_TYPE = 'http://terminology.hl7.org/CodeSystem/security-source-type';

const REST: Coding = { system: AUDIT_EVENT_TYPE, code: 'rest', display: 'Restful Operation' };
const USER_AUTHENTICATION: Coding = { system: DCM, code: '110114', display: 'User Authentication' };
const SECURITY_ALERT: Coding = { system: DCM, code: '110113', display: 'Security Alert' };
const SECURITY_ATTRIBUTES: Coding = { system: DCM, code: '110137', display: 'User Security Attributes Changed' };
const ROLES_CHANGED: Coding = { system: DCM, code: '110136', display: 'Security Roles Changed' };
const LOGIN: Coding = { system: DCM, code: '110122', display: 'Login' };
const LOGOUT: Coding = { system: DCM, code: '110123', display: 'Logout' };

const interaction = (code: string): Coding => ({ system: RESTFUL_INTERACTION, code });

interface KindSpec {
  type: Coding;
  /** DICOM or restful-interaction subtypes before this server's own code. */
  subtype: Coding[];
  action: AuditEvent['action'];
  display: string;
}

/** Every kind of event this server records, by its subtype code in SUBTYPE_SYSTEM. */
export const AUDIT_KINDS = {
  invite: { type: REST, subtype: [interaction('operation')], action: 'E', display: 'Project/$invite' },
  'resend-invite': { type: REST, subtype: [interaction('operation')], action: 'E', display: 'ProjectMembership/$resend-invite' },
  'revoke-invite': { type: REST, subtype: [interaction('operation')], action: 'E', display: 'ProjectMembership/$revoke-invite' },
  'membership-create': { type: REST, subtype: [interaction('create')], action: 'C', display: 'ProjectMembership created' },
  'membership-update': { type: REST, subtype: [interaction('update')], action: 'U', display: 'ProjectMembership updated' },
  'membership-delete': { type: REST, subtype: [interaction('delete')], action: 'D', display: 'ProjectMembership deleted' },
  'admin-changed': { type: ROLES_CHANGED, subtype: [], action: 'U', display: 'Project administrator flag changed' },
  'membership-policy-changed': { type: ROLES_CHANGED, subtype: [], action: 'U', display: 'Membership access policy changed' },
  'access-policy-create': { type: REST, subtype: [interaction('create')], action: 'C', display: 'AccessPolicy created' },
  'access-policy-update': { type: REST, subtype: [interaction('update')], action: 'U', display: 'AccessPolicy updated' },
  'access-policy-delete': { type: REST, subtype: [interaction('delete')], action: 'D', display: 'AccessPolicy deleted' },
  'client-create': { type: REST, subtype: [interaction('create')], action: 'C', display: 'ClientApplication created' },
  activation: { type: SECURITY_ATTRIBUTES, subtype: [], action: 'U', display: 'Account activated (password set)' },
  'password-reset-requested': { type: SECURITY_ATTRIBUTES, subtype: [], action: 'E', display: 'Password reset requested' },
  'password-reset-completed': { type: SECURITY_ATTRIBUTES, subtype: [], action: 'U', display: 'Password reset completed' },
  'sign-in': { type: USER_AUTHENTICATION, subtype: [LOGIN], action: 'E', display: 'Sign-in' },
  'sign-out': { type: USER_AUTHENTICATION, subtype: [LOGOUT], action: 'E', display: 'Sign-out' },
  'mfa-enrolled': { type: SECURITY_ATTRIBUTES, subtype: [], action: 'U', display: 'MFA enrolled' },
  'mfa-disabled': { type: SECURITY_ATTRIBUTES, subtype: [], action: 'U', display: 'MFA disabled' },
  'mfa-verified': { type: USER_AUTHENTICATION, subtype: [LOGIN], action: 'E', display: 'MFA code verified' },
  'mfa-failed': { type: USER_AUTHENTICATION, subtype: [LOGIN], action: 'E', display: 'MFA code refused' },
  'mfa-locked': { type: SECURITY_ALERT, subtype: [], action: 'E', display: 'MFA locked after too many wrong codes' },
  'refresh-token-reuse': { type: SECURITY_ALERT, subtype: [], action: 'E', display: 'Refresh token reused: its sign-in session was revoked' },
  'access-denied': { type: REST, subtype: [], action: 'E', display: 'Access denied (403) on the FHIR API' },
  'rate-limited': { type: SECURITY_ALERT, subtype: [], action: 'E', display: 'Rate limit hit on an auth route' },
} as const satisfies Record<string, KindSpec>;

export type AuditKind = keyof typeof AUDIT_KINDS;

/** FHIR AuditEvent.outcome: 0 success, 4 minor failure (the caller's), 8 serious failure, 12 major failure. */
export type AuditOutcome = '0' | '4' | '8' | '12';

/** A detail on an entity: a name and a plain value (never a secret). */
export type EntityDetail = Record<string, string | boolean | undefined>;

export interface AuditEntityInput {
  what: Reference;
  /** object-role code: 1 Patient, 4 Domain Resource, 5 Master file, 6 User, 7 List, 11 Security User, 13 Security Resource. */
  role?: '1' | '4' | '5' | '6' | '11' | '13';
  detail?: EntityDetail;
}

/** Everything an event says, before it is shaped as an AuditEvent. */
export interface AuditRecord {
  kind: AuditKind;
  outcome?: AuditOutcome;
  /** Why: a short code or sentence a person can read (never a secret or an email address). */
  outcomeDesc?: string;
  /** The user or client acting, when known. */
  actor?: Actor;
  /** The caller's network address, when known. */
  address?: string;
  entities?: AuditEntityInput[];
  /** The project the event belongs to (its administrators see it); absent: the super administrator only. */
  project?: string;
  /** Extra restful-interaction subtype (e.g. 'read' for a refused read). */
  interaction?: string;
}

function requestor(actor: Actor | undefined, address: string | undefined): AuditEventAgent {
  const agent: AuditEventAgent = { type: { coding: [{ system: DCM, code: '110153' }] }, requestor: true };
  if (actor) {
    agent.who = (actor.profile ?? actor.principal) as AuditEventAgent['who'];
    const principal = actor.principal.reference;
    if (principal) {
      agent.altId = principal;
    }
  } else {
    agent.who = { display: 'unknown' };
  }
  if (address) {
    agent.network = { address: address.slice(0, 64), type: '2' };
  }
  return agent;
}

function entityOf(input: AuditEntityInput): AuditEventEntity {
  const entity: AuditEventEntity = { what: input.what, type: { system: ENTITY_TYPE, code: '2' } };
  if (input.role) {
    entity.role = { system: OBJECT_ROLE, code: input.role };
  }
  const details = Object.entries(input.detail ?? {}).filter((e): e is [string, string | boolean] => e[1] !== undefined);
  if (details.length > 0) {
    entity.detail = details.map(([type, value]) => ({ type, valueString: String(value) }));
  }
  return entity;
}

const OUTCOME_TEXT: Record<AuditOutcome, string> = { '0': 'Success', '4': 'Refused', '8': 'Failed', '12': 'Failed' };

/** The AuditEvent of a record (without id and meta: the store sets them). */
export function buildAuditEvent(record: AuditRecord, recorded: Date, baseUrl: string): AuditEvent {
  const spec: KindSpec = AUDIT_KINDS[record.kind];
  const outcome = record.outcome ?? '0';
  const subtype = [...spec.subtype.map(({ system, code }) => ({ system, code })), ...(record.interaction ? [interaction(record.interaction)] : []), { system: SUBTYPE_SYSTEM, code: record.kind }];
  const event: AuditEvent = {
    resourceType: 'AuditEvent',
    type: spec.type,
    subtype,
    action: spec.action,
    recorded: recorded.toISOString(),
    outcome,
    outcomeDesc: (record.outcomeDesc ?? OUTCOME_TEXT[outcome]).slice(0, 300),
    agent: [
      requestor(record.actor, record.address),
      { type: { coding: [{ system: DCM, code: '110152' }] }, who: { display: 'fhir-invite-server' }, requestor: false },
    ],
    source: { site: baseUrl, observer: { display: 'fhir-invite-server' }, type: [{ system: SOURCE_TYPE, code: '4' }] },
  };
  const entities = (record.entities ?? []).map(entityOf);
  if (entities.length > 0) {
    event.entity = entities;
  }
  return event;
}

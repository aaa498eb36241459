import type { Extension, ProjectMembership } from '@medplum/fhirtypes';

/**
 * MFA required by one membership: an invite with `mfaRequired: true` of a person whose account
 * the inviting project does not control (an existing server-scoped User) records the requirement
 * on the membership only. Signing in to THAT membership then demands MFA (enrolment or a code)
 * before its authorization code is issued; the person's other memberships are not affected.
 */
export const MEMBERSHIP_MFA_REQUIRED_URL = 'https://fhir-invite-server.example/fhir/StructureDefinition/membership-mfa-required';

/** Whether signing in to this membership needs MFA. */
export function membershipRequiresMfa(membership: Pick<ProjectMembership, 'extension'>): boolean {
  return membership.extension?.some((e) => e.url === MEMBERSHIP_MFA_REQUIRED_URL && e.valueBoolean === true) === true;
}

/** The membership's extensions with the MFA requirement set (any earlier value replaced). */
export function withMfaRequired(extensions: readonly Extension[] | undefined): Extension[] {
  return [...(extensions ?? []).filter((e) => e.url !== MEMBERSHIP_MFA_REQUIRED_URL), { url: MEMBERSHIP_MFA_REQUIRED_URL, valueBoolean: true }];
}

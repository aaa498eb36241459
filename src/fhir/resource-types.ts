/** The resource types this server stores, with one collection each. */
export const CLINICAL_TYPES = ['Practitioner', 'Patient', 'RelatedPerson'] as const;
export const ADMIN_TYPES = ['Project', 'User', 'ClientApplication', 'AccessPolicy', 'ProjectMembership', 'Subscription', 'AuditEvent'] as const;
export const STORED_TYPES: readonly string[] = [...ADMIN_TYPES, ...CLINICAL_TYPES];

export function isStoredType(type: string): boolean {
  return STORED_TYPES.includes(type);
}

export function isAdminType(type: string): boolean {
  return (ADMIN_TYPES as readonly string[]).includes(type);
}

/** The MongoDB collection holding the current version of each resource of a type. */
export const currentCollection = (type: string): string => type;
/** The MongoDB collection holding every version of each resource of a type. */
export const historyCollection = (type: string): string => `${type}_history`;

/**
 * Types the server writes itself and callers may only read: the REST interactions (as the
 * CapabilityStatement names them) each answers; every other interaction on them is 405 for
 * everyone. AuditEvents are inserted by the audit trail, never through the repository.
 */
export const READ_ONLY_TYPES: Readonly<Record<string, readonly string[]>> = {
  AuditEvent: ['read', 'search-type'],
};

/** The interactions a read-only type answers, or undefined for a type written through the REST API. */
export function readOnlyInteractions(type: string): readonly string[] | undefined {
  return Object.hasOwn(READ_ONLY_TYPES, type) ? READ_ONLY_TYPES[type] : undefined;
}

/** The resource types this server stores, with one collection each. */
export const CLINICAL_TYPES = ['Practitioner', 'Patient', 'RelatedPerson'] as const;
export const ADMIN_TYPES = ['Project', 'User', 'ClientApplication', 'AccessPolicy', 'ProjectMembership', 'Subscription'] as const;
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

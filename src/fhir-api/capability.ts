import type { CapabilityStatement, CapabilityStatementRestResource, CapabilityStatementRestResourceOperation, OperationDefinition } from '@medplum/fhirtypes';
import { SERVER_VERSION } from '../package-files';
import { fhirBase } from '../fhir/bundle';
import { readOnlyInteractions, STORED_TYPES } from '../fhir/resource-types';
import { indexedParams } from '../fhir/search/supported-params';

const INTERACTIONS = ['read', 'vread', 'update', 'patch', 'delete', 'history-instance', 'history-type', 'create', 'search-type'] as const;

/**
 * What the server answers at its base: Bundles POSTed to it (see fhir-api/bundle-routes.ts), a
 * search of several types (GET ?_type=) and the history of all.
 */
const SYSTEM_INTERACTIONS = ['transaction', 'batch', 'search-system', 'history-system'] as const;

const SYSTEM_INTERACTION_DOCS: Partial<Record<(typeof SYSTEM_INTERACTIONS)[number], string>> = {
  transaction: 'All or nothing in one database transaction, at most 100 entries; urn:uuid references resolved; no operations (send them in a batch)',
  batch: 'Each entry on its own, at most 500 entries; operations such as Project/{id}/$invite allowed',
};

const MEDPLUM_TYPES = new Set(['Project', 'User', 'ClientApplication', 'AccessPolicy', 'ProjectMembership']);

const SPECIAL_SEARCH = [
  { name: '_id', type: 'token' as const, definition: 'http://hl7.org/fhir/SearchParameter/Resource-id', documentation: 'Logical id' },
  { name: '_lastUpdated', type: 'date' as const, definition: 'http://hl7.org/fhir/SearchParameter/Resource-lastUpdated', documentation: 'When the resource version last changed' },
  { name: '_project', type: 'token' as const, definition: 'https://medplum.com/fhir/SearchParameter/Resource-project', documentation: 'The owning project id' },
];

function operationRef(baseUrl: string, op: OperationDefinition): CapabilityStatementRestResourceOperation {
  return { name: op.code as string, definition: op.url ?? `${fhirBase(baseUrl)}OperationDefinition/${op.id}`, documentation: op.description };
}

/** The interactions and flags of a read-only type (READ_ONLY_TYPES), overriding the defaults. */
function readOnlyEntry(type: string): Partial<CapabilityStatementRestResource> {
  const declared = readOnlyInteractions(type);
  if (!declared) {
    return {};
  }
  return {
    interaction: INTERACTIONS.filter((code) => declared.includes(code)).map((code) => ({ code })),
    versioning: 'no-version',
    readHistory: false,
    conditionalCreate: false,
    conditionalUpdate: false,
    conditionalDelete: 'not-supported',
    documentation: 'Written by the server only (the audit trail); create, update, patch and delete answer 405 for everyone',
  };
}

function resourceEntry(baseUrl: string, type: string, operations: OperationDefinition[]): CapabilityStatementRestResource {
  const params = indexedParams(type);
  const revIncludes = STORED_TYPES.flatMap((source) =>
    indexedParams(source)
      .filter((p) => p.kind === 'reference' && p.targets.includes(type))
      .map((p) => `${source}:${p.code}`),
  );
  const entry: CapabilityStatementRestResource = {
    type: type as CapabilityStatementRestResource['type'],
    profile: MEDPLUM_TYPES.has(type) ? `https://medplum.com/fhir/StructureDefinition/${type}` : `http://hl7.org/fhir/StructureDefinition/${type}`,
    interaction: INTERACTIONS.map((code) => ({ code })),
    versioning: 'versioned-update',
    readHistory: true,
    updateCreate: false,
    conditionalCreate: true,
    conditionalRead: 'full-support',
    conditionalUpdate: true,
    conditionalDelete: 'single',
    // A type the server writes itself answers only what it declares (every write is 405).
    ...readOnlyEntry(type),
    searchParam: [
      ...SPECIAL_SEARCH,
      ...params.map((p) => ({ name: p.code, type: p.kind, definition: p.definition.url, documentation: p.definition.description })),
    ],
  };
  // FHIR JSON has no empty arrays: a list with nothing in it is left out.
  const includes = params.filter((p) => p.kind === 'reference').map((p) => `${type}:${p.code}`);
  if (includes.length > 0) {
    entry.searchInclude = includes;
  }
  if (revIncludes.length > 0) {
    entry.searchRevInclude = revIncludes;
  }
  const ops = operations.filter((op) => op.resource?.includes(type as never) && (op.type || op.instance)).map((op) => operationRef(baseUrl, op));
  if (ops.length > 0) {
    entry.operation = ops;
  }
  return entry;
}

/**
 * The CapabilityStatement, generated from what this server registers: the stored types and
 * their interactions, the indexed search parameters, and the loaded OperationDefinitions.
 */
export function buildCapabilityStatement(baseUrl: string, operationMap: ReadonlyMap<string, OperationDefinition>, date: Date): CapabilityStatement {
  const operations = [...operationMap.values()];
  const systemOps = operations.filter((op) => op.system).map((op) => operationRef(baseUrl, op));
  const statement: CapabilityStatement = {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: date.toISOString(),
    kind: 'instance',
    software: { name: 'fhir-invite-server', version: SERVER_VERSION },
    implementation: { description: 'FHIR R4 server with the Project/$invite operation', url: fhirBase(baseUrl).replace(/\/$/, '') },
    fhirVersion: '4.0.1',
    format: ['json', 'application/fhir+json'],
    patchFormat: ['application/json-patch+json'],
    rest: [
      {
        mode: 'server',
        security: {
          service: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/restful-security-service', code: 'OAuth' }] }],
          description: 'Bearer access tokens from /oauth2/token (sign in through /auth/login)',
          extension: [
            {
              url: 'http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris',
              extension: [{ url: 'token', valueUri: `${baseUrl}oauth2/token` }],
            },
          ],
        },
        resource: STORED_TYPES.map((type) => resourceEntry(baseUrl, type, operations)),
        interaction: SYSTEM_INTERACTIONS.map((code) => (SYSTEM_INTERACTION_DOCS[code] ? { code, documentation: SYSTEM_INTERACTION_DOCS[code] } : { code })),
        searchParam: [...SPECIAL_SEARCH, { name: '_type', type: 'token', documentation: 'The resource types to search, comma-separated (every type you may search when left out)' }],
      },
    ],
  };
  if (systemOps.length > 0) {
    (statement.rest as NonNullable<CapabilityStatement['rest']>)[0].operation = systemOps;
  }
  return statement;
}

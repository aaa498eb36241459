import { STORED_TYPES } from '../fhir/resource-types';

/** JSON schemas of the FHIR routes: they check the request shape and document it at /docs. */

const TAGS = ['fhir'];
const SECURITY = [{ bearer: [] }];

const type = { type: 'string', description: `Resource type: ${STORED_TYPES.join(', ')}` };
const id = { type: 'string', pattern: '^[A-Za-z0-9\\-.]{1,64}$', description: 'Logical id' };
const vid = { type: 'string', pattern: '^[0-9]{1,9}$', description: 'Version id' };

const typeParams = { type: 'object', required: ['type'], properties: { type } };
const instanceParams = { type: 'object', required: ['type', 'id'], properties: { type, id } };
const versionParams = { type: 'object', required: ['type', 'id', 'vid'], properties: { type, id, vid } };

const resourceBody = {
  type: 'object',
  description: 'A FHIR resource of the type in the URL (application/fhir+json or application/json)',
  properties: { resourceType: { type: 'string' }, id: { type: 'string' } },
  additionalProperties: true,
};

const stringList = (description: string) => ({ type: 'array', items: { type: 'string' }, description });

const searchQuery = {
  type: 'object',
  additionalProperties: true,
  description: 'Search parameters of the type (see /fhir/R4/metadata), with :exact, :contains, :not, :missing and date prefixes',
  properties: {
    _count: { type: 'string', description: 'Page size (default 20, at most 1000)' },
    _offset: { type: 'string', description: 'Index of the first result (paging links set it)' },
    _sort: { type: 'string', description: 'Comma-separated parameters, - for descending (e.g. -_lastUpdated)' },
    _total: { type: 'string', enum: ['none', 'estimate', 'accurate'] },
    _include: stringList('e.g. ProjectMembership:profile'),
    _revinclude: stringList('e.g. ProjectMembership:profile'),
  },
};

const historyQuery = {
  type: 'object',
  properties: {
    _since: { type: 'string', description: 'Only versions written at or after this instant' },
    _count: { type: 'string', description: 'Page size (default 20, at most 1000)' },
    _cursor: { type: 'string', description: 'Where the previous page stopped (from the next link)' },
  },
};

const ifMatch = { type: 'object', properties: { 'if-match': { type: 'string', description: 'W/"n": update only if the current version is n (412 otherwise)' } } };

/**
 * A FHIR resource in a response (application/fhir+json). Every property is passed through as it
 * is: the schema documents the answer and lets Fastify compile its serializer, it never filters.
 */
export const fhirResourceResponse = (description: string) => ({
  type: 'object',
  description,
  additionalProperties: true,
  properties: { resourceType: { type: 'string' } },
});

const resource = { 200: fhirResourceResponse('The resource') };
const bundle = { 200: fhirResourceResponse('A Bundle') };
const outcome = { 200: fhirResourceResponse('An OperationOutcome') };

export const schemas = {
  read: { tags: TAGS, security: SECURITY, summary: 'Read the current version', params: instanceParams, response: resource },
  vread: { tags: TAGS, security: SECURITY, summary: 'Read one version', params: versionParams, response: resource },
  create: {
    tags: TAGS,
    security: SECURITY,
    summary: 'Create (server-assigned id); with If-None-Exist, only when nothing matches',
    params: typeParams,
    headers: { type: 'object', properties: { 'if-none-exist': { type: 'string', description: 'Search parameters (e.g. identifier=http://example.org|1): one match is answered (200) instead of creating, several are 412' } } },
    body: resourceBody,
    response: { 200: fhirResourceResponse('The existing resource matching If-None-Exist'), 201: fhirResourceResponse('The created resource') },
  },
  update: { tags: TAGS, security: SECURITY, summary: 'Update (optionally with If-Match)', params: instanceParams, headers: ifMatch, body: resourceBody, response: resource },
  delete: { tags: TAGS, security: SECURITY, summary: 'Delete (later reads answer 410)', params: instanceParams, response: outcome },
  search: { tags: TAGS, security: SECURITY, summary: 'Search', params: typeParams, querystring: searchQuery, response: bundle },
  searchPost: {
    tags: TAGS,
    security: SECURITY,
    summary: 'Search with form-encoded parameters',
    params: typeParams,
    consumes: ['application/x-www-form-urlencoded'],
    response: bundle,
  },
  typeHistory: { tags: TAGS, security: SECURITY, summary: 'Type history, newest first', params: typeParams, querystring: historyQuery, response: bundle },
  instanceHistory: { tags: TAGS, security: SECURITY, summary: 'Instance history, newest first', params: instanceParams, querystring: historyQuery, response: bundle },
  patch: {
    tags: TAGS,
    security: SECURITY,
    summary: 'Patch with a JSON Patch (application/json-patch+json), optionally with If-Match',
    params: instanceParams,
    headers: ifMatch,
    consumes: ['application/json-patch+json'],
    body: { description: 'A JSON Patch document (RFC 6902): an array of operations; id, meta and resourceType cannot be changed' },
    response: resource,
  },
  conditionalUpdate: {
    tags: TAGS,
    security: SECURITY,
    summary: 'Conditional update: no match creates (201), one match is updated, several are 412',
    params: typeParams,
    querystring: { type: 'object', additionalProperties: true, description: 'Search parameters selecting the resource' },
    headers: ifMatch,
    body: resourceBody,
    response: { 200: fhirResourceResponse('The updated resource'), 201: fhirResourceResponse('The created resource') },
  },
  conditionalDelete: {
    tags: TAGS,
    security: SECURITY,
    summary: 'Conditional delete: one match is deleted, none deletes nothing, several are 412',
    params: typeParams,
    querystring: { type: 'object', additionalProperties: true, description: 'Search parameters selecting the resource' },
    response: outcome,
  },
  bundle: {
    tags: TAGS,
    security: SECURITY,
    summary: 'batch or transaction Bundle',
    description:
      'A Bundle of type batch (each entry on its own, at most 500; operations such as Project/{id}/$invite allowed) or transaction (all or nothing in one database transaction, at most 100 entries, urn:uuid references resolved, no operations). Answers a batch-response or transaction-response Bundle.',
    body: { type: 'object', description: 'A Bundle (application/fhir+json)', properties: { resourceType: { type: 'string' }, type: { type: 'string' } }, additionalProperties: true },
    response: { 200: fhirResourceResponse('A batch-response or transaction-response Bundle') },
  },
  systemSearch: {
    tags: TAGS,
    security: SECURITY,
    summary: 'Search several types at once (_type=Patient,Practitioner; without _type, every type you may search)',
    querystring: { ...searchQuery, properties: { ...searchQuery.properties, _type: stringList('Comma-separated resource types, e.g. Patient,Practitioner') } },
    response: bundle,
  },
  systemSearchPost: { tags: TAGS, security: SECURITY, summary: 'Search several types with form-encoded parameters', consumes: ['application/x-www-form-urlencoded'], response: bundle },
  systemHistory: { tags: TAGS, security: SECURITY, summary: 'History of every type you may read, newest first', querystring: historyQuery, response: bundle },
  metadata: { tags: TAGS, summary: 'CapabilityStatement (public)', response: { 200: fhirResourceResponse('The CapabilityStatement') } },
  operationDefinition: { tags: TAGS, summary: 'An OperationDefinition (public)', params: { type: 'object', required: ['id'], properties: { id } }, response: resource },
  operationDefinitions: { tags: TAGS, summary: 'All OperationDefinitions (public)', response: bundle },
};

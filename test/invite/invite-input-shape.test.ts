import type { OperationDefinition, OperationDefinitionParameter } from '@medplum/fhirtypes';
import { findProfilesDir, loadDefinitions } from '../../src/fhir/definitions';
import { operationInputSchema } from '../../src/fhir-api/operations/input-schema';
import { INVITE_INPUT_FIELDS, MEMBERSHIP_TEMPLATE_FIELDS } from '../../src/invite/invite-request';

/**
 * The invite's input shape is written once, in OperationDefinition/Project-invite: the JSON
 * schema is derived from it at start, and the hand-written TypeScript type (InviteInput, whose
 * keys INVITE_INPUT_FIELDS lists, checked at compile time) must name exactly its parameters.
 */
describe('the invite input shape', () => {
  let invite: OperationDefinition;
  const inputsOf = (params: readonly OperationDefinitionParameter[] | undefined): string[] =>
    (params ?? []).filter((p) => p.use === 'in').map((p) => p.name as string);

  beforeAll(() => {
    invite = loadDefinitions(findProfilesDir()).operations.get('Project-invite') as OperationDefinition;
  });

  test('InviteInput has exactly the input parameters of the OperationDefinition', () => {
    expect([...INVITE_INPUT_FIELDS].sort()).toEqual(inputsOf(invite.parameter).sort());
  });

  test('the membership template has exactly the parts of the definition\'s membership parameter', () => {
    const membership = (invite.parameter ?? []).find((p) => p.use === 'in' && p.name === 'membership');
    expect([...MEMBERSHIP_TEMPLATE_FIELDS].sort()).toEqual(inputsOf(membership?.part).sort());
  });

  test('the derived schema requires what the definition requires and keeps its constraints', () => {
    const schema = operationInputSchema(invite);
    expect(schema.required).toEqual(['resourceType', 'firstName', 'lastName']);
    expect(schema.additionalProperties).toBe(false);
    expect(schema.properties.resourceType).toMatchObject({ type: 'string', enum: ['Practitioner', 'Patient', 'RelatedPerson'] });
    expect(schema.properties.email).toMatchObject({ type: 'string', format: 'email', maxLength: 254 });
    expect(schema.properties.password).toMatchObject({ type: 'string', minLength: 8, maxLength: 72 });
    expect(schema.properties.access).toMatchObject({ type: 'array', maxItems: 50, items: { type: 'object', required: ['policy'] } });
    expect(schema.properties.membership).toMatchObject({ type: 'object', additionalProperties: false, properties: { resourceType: { enum: ['ProjectMembership'] } } });
  });
});

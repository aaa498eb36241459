import type { OperationDefinition } from '@medplum/fhirtypes';
import { findProfilesDir, loadDefinitions, type Definitions } from '../../../src/fhir/definitions';
import { objectToParameters, parametersToObject } from '../../../src/fhir-api/operations/parameters';
import { createOperationRegistry } from '../../../src/fhir-api/operations/registry';
import { FhirError } from '../../../src/errors';
import { operationInputSchema } from '../../../src/fhir-api/operations/input-schema';

function refusal(fn: () => unknown): FhirError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(FhirError);
    return err as FhirError;
  }
  throw new Error('expected a refusal');
}

describe('operation registry', () => {
  let definitions: Definitions;
  let invite: OperationDefinition;
  const handler = async (): Promise<unknown> => undefined;
  const lifecycle = { 'ProjectMembership-resend-invite': handler, 'ProjectMembership-revoke-invite': handler };

  beforeAll(() => {
    definitions = loadDefinitions(findProfilesDir());
    invite = definitions.operations.get('Project-invite') as OperationDefinition;
  });

  test('the invite OperationDefinition is loaded from fhir-profiles with the agreed identity', () => {
    expect(invite).toMatchObject({ resourceType: 'OperationDefinition', id: 'Project-invite', code: 'invite', resource: ['Project'], system: false, type: false, instance: true });
  });

  test('binds each definition to its handler and answers the instance-level route', () => {
    const registry = createOperationRegistry(new Map([['Project-invite', invite]]), { 'Project-invite': handler });
    expect(registry.routes.map((r) => r.path)).toEqual(['/Project/:id/$invite']);
    expect(registry.get('Project-invite')).toMatchObject({ level: 'instance', resourceType: 'Project', handler });
    expect(registry.find('instance', '$invite', 'Project')).toBe(registry.get('Project-invite'));
    expect(registry.find('type', '$invite', 'Project')).toBeUndefined();
    expect(registry.find('instance', '$invite', 'Patient')).toBeUndefined();
  });

  test('refuses to start when a definition has no handler', () => {
    expect(() => createOperationRegistry(definitions.operations, {})).toThrow(/without a handler: Project-invite, ProjectMembership-resend-invite, ProjectMembership-revoke-invite, Resource-validate/);
  });

  test('refuses to start when a handler has no definition', () => {
    expect(() => createOperationRegistry(definitions.operations, { 'Project-invite': handler, ...lifecycle, 'Resource-validate': handler, 'Patient-everything': handler })).toThrow(
      /without an OperationDefinition.*Patient-everything/,
    );
  });

  test('refuses a definition that binds no route', () => {
    const broken = new Map([['X-op', { ...invite, id: 'X-op', instance: false }]]);
    expect(() => createOperationRegistry(broken, { 'X-op': handler })).toThrow(/neither system, type nor instance/);
  });

  test('the JSON schema lists exactly the input parameters of the OperationDefinition', () => {
    const inviteBodySchema = operationInputSchema(invite);
    const membershipTemplateSchema = inviteBodySchema.properties.membership as typeof inviteBodySchema;
    const inputs = (invite.parameter ?? []).filter((p) => p.use === 'in');
    expect(Object.keys(inviteBodySchema.properties).sort()).toEqual(inputs.map((p) => p.name).sort());
    const membership = inputs.find((p) => p.name === 'membership');
    const templateFields = Object.keys(membershipTemplateSchema.properties).filter((k) => k !== 'resourceType');
    expect(templateFields.sort()).toEqual((membership?.part ?? []).map((p) => p.name).sort());
  });

  describe('Parameters input', () => {
    const base = [
      { name: 'resourceType', valueCode: 'Practitioner' },
      { name: 'firstName', valueString: 'Ada' },
      { name: 'lastName', valueString: 'Lovelace' },
    ];

    test('reads values, parts and repeated parts into the plain-JSON shape', () => {
      const result = parametersToObject(invite, {
        resourceType: 'Parameters',
        parameter: [
          ...base,
          { name: 'email', valueString: 'ada@example.com' },
          { name: 'sendEmail', valueBoolean: false },
          {
            name: 'membership',
            part: [
              { name: 'admin', valueBoolean: true },
              { name: 'access', part: [{ name: 'policy', valueReference: { reference: 'AccessPolicy/1' } }, { name: 'parameter', part: [{ name: 'name', valueString: 'org' }, { name: 'valueString', valueString: 'x' }] }] },
              { name: 'access', part: [{ name: 'policy', valueReference: { reference: 'AccessPolicy/2' } }] },
            ],
          },
        ],
      });
      expect(result).toEqual({
        resourceType: 'Practitioner',
        firstName: 'Ada',
        lastName: 'Lovelace',
        email: 'ada@example.com',
        sendEmail: false,
        membership: {
          admin: true,
          access: [{ policy: { reference: 'AccessPolicy/1' }, parameter: [{ name: 'org', valueString: 'x' }] }, { policy: { reference: 'AccessPolicy/2' } }],
        },
      });
    });

    test.each([
      ['an unknown parameter', [...base, { name: 'colour', valueString: 'red' }], 'colour', /Unknown parameter "colour"/],
      ['an unknown part', [...base, { name: 'membership', part: [{ name: 'project', valueReference: { reference: 'Project/1' } }] }], 'membership.project', /Unknown parameter/],
      ['a wrong value type', [...base, { name: 'sendEmail', valueString: 'false' }], 'sendEmail', /boolean given as valueBoolean/],
      ['a value of the right key but wrong JSON type', [...base, { name: 'upsert', valueBoolean: 'yes' }], 'upsert', /not a valid boolean/],
      ['an object where a string belongs', [...base, { name: 'email', valueString: { $ne: null } }], 'email', /not a valid string/],
      ['a parameter given twice', [...base, { name: 'email', valueString: 'a@example.com' }, { name: 'email', valueString: 'b@example.com' }], 'email', /at most 1/],
      ['a missing required parameter', base.slice(1), 'resourceType', /"resourceType" is required/],
      ['two values at once', [...base, { name: 'email', valueString: 'a@example.com', valueCode: 'x' }], 'email', /exactly one of/],
      ['a value where parts belong', [...base, { name: 'membership', valueString: 'x' }], 'membership', /exactly one of|as "part"/],
      ['a missing required part', [...base, { name: 'access', part: [] }], 'access[0].policy', /required/],
    ])('refuses %s, naming it', (_label, parameter, expression, message) => {
      const err = refusal(() => parametersToObject(invite, { resourceType: 'Parameters', parameter }));
      expect(err.statusCode).toBe(400);
      expect(err.issues[0].expression).toEqual([expression]);
      expect(err.message).toMatch(message);
    });

    test('refuses a body that is not a Parameters resource', () => {
      expect(refusal(() => parametersToObject(invite, { resourceType: 'Patient' })).statusCode).toBe(400);
      expect(refusal(() => parametersToObject(invite, { resourceType: 'Parameters', parameter: {} })).issues[0].expression).toEqual(['parameter']);
      expect(refusal(() => parametersToObject(invite, { resourceType: 'Parameters', extra: 1 })).issues[0].expression).toEqual(['extra']);
    });
  });

  describe('Parameters output', () => {
    test('builds value[x] and resource entries from the output definitions', () => {
      const params = objectToParameters(invite, {
        membership: { resourceType: 'ProjectMembership' },
        profile: { resourceType: 'Patient' },
        user: { reference: 'User/1' },
        emailStatus: 'queued',
      });
      expect(params.parameter).toEqual([
        { name: 'membership', resource: { resourceType: 'ProjectMembership' } },
        { name: 'profile', resource: { resourceType: 'Patient' } },
        { name: 'user', valueReference: { reference: 'User/1' } },
        { name: 'emailStatus', valueCode: 'queued' },
      ]);
    });

    test('throws on an output the definition does not list or a missing required one', () => {
      expect(() => objectToParameters(invite, { emailStatus: 'queued', colour: 'red' })).toThrow(/no output parameter colour/);
      expect(() => objectToParameters(invite, { emailStatus: 'queued' })).toThrow(/membership is required/);
    });
  });
});

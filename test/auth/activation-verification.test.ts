import type { User } from '@medplum/fhirtypes';
import { ACTIVATIONS, type ActivationDoc } from '../../src/accounts/activation';
import { readResource } from '../../src/fhir/repository';
import { repoOf } from '../helpers/fixtures';
import { useTestApp } from '../helpers/suite';
import { createLink, createUser } from '../helpers/activation';

const PASSWORD = 'plum tree under moonlight';

/**
 * Only a link that was mailed to the account's address proves, when used, that its user controls
 * that address (`User.emailVerified`). The proof is kept on the activation record, server-side.
 */
describe('POST /auth/setpassword: which links verify the email', () => {
  const t = useTestApp();
  const setPassword = (link: { id: string; secret: string }) => t.app.inject({ method: 'POST', url: '/auth/setpassword', payload: { id: link.id, secret: link.secret, password: PASSWORD } });
  const verified = async (userId: string) => (await readResource<User>(repoOf(t.app), 'User', userId)).emailVerified;

  test('a link handed to an administrator sets the password but does not verify the email', async () => {
    const user = await createUser(t.app);
    const link = await createLink(t.app, user.id as string, 'invite', 'caller');
    expect((await t.app.ctx.database.db.collection<ActivationDoc>(ACTIVATIONS).findOne({ _id: link.id }))?.mailed).toBe(false);
    expect((await setPassword(link)).statusCode).toBe(200);
    expect(await verified(user.id as string)).toBeUndefined();
  });

  test.each(['invite', 'reset'] as const)('a mailed %s link verifies it', async (kind) => {
    const user = await createUser(t.app);
    const link = await createLink(t.app, user.id as string, kind, 'mail');
    expect((await setPassword(link)).statusCode).toBe(200);
    expect(await verified(user.id as string)).toBe(true);
  });

  test('a record that does not say it was mailed (written before the rule) verifies nothing', async () => {
    const user = await createUser(t.app);
    const link = await createLink(t.app, user.id as string, 'invite', 'mail');
    await t.app.ctx.database.db.collection<ActivationDoc>(ACTIVATIONS).updateOne({ _id: link.id }, { $unset: { mailed: '' } });
    expect((await setPassword(link)).statusCode).toBe(200);
    expect(await verified(user.id as string)).toBeUndefined();
  });
});

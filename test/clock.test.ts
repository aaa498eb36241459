import { byId } from '../src/clock';

describe('byId', () => {
  test('orders by id code unit by code unit, whatever the locale would say', () => {
    const ids = ['b', 'B', 'a-2', 'a10', 'a2', '0', 'A'].map((id) => ({ id }));
    expect([...ids].sort(byId).map((r) => r.id)).toEqual(['0', 'A', 'B', 'a-2', 'a10', 'a2', 'b']);
  });

  test('UUIDs come in the same order as the collation the server used before', () => {
    const ids = Array.from({ length: 200 }, (_, i) => ({ id: `${(i * 2654435761) % 4294967296}`.padStart(10, '0') + '-4a6b-9c0d-' + (i % 7) }));
    expect([...ids].sort(byId)).toEqual([...ids].sort((a, b) => a.id.localeCompare(b.id)));
  });
});

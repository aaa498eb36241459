import { parseDateRange, periodRange, MAX_DATE, MIN_DATE } from '../../../src/fhir/search/date-range';

const iso = (r: { s: Date; e: Date } | undefined) => r && [r.s.toISOString(), r.e.toISOString()];

describe('parseDateRange', () => {
  test('a year, a month and a day cover their whole span', () => {
    expect(iso(parseDateRange('1980'))).toEqual(['1980-01-01T00:00:00.000Z', '1981-01-01T00:00:00.000Z']);
    expect(iso(parseDateRange('1980-02'))).toEqual(['1980-02-01T00:00:00.000Z', '1980-03-01T00:00:00.000Z']);
    expect(iso(parseDateRange('1980-12-31'))).toEqual(['1980-12-31T00:00:00.000Z', '1981-01-01T00:00:00.000Z']);
  });

  test('times cover a minute, a second or a millisecond, and honour the zone', () => {
    expect(iso(parseDateRange('2026-01-15T12:30Z'))).toEqual(['2026-01-15T12:30:00.000Z', '2026-01-15T12:31:00.000Z']);
    expect(iso(parseDateRange('2026-01-15T12:30:05+02:00'))).toEqual(['2026-01-15T10:30:05.000Z', '2026-01-15T10:30:06.000Z']);
    expect(iso(parseDateRange('2026-01-15T12:30:05.123456Z'))).toEqual(['2026-01-15T12:30:05.123Z', '2026-01-15T12:30:05.124Z']);
  });

  test.each(['', '80', '1980-13', '1980-02-30', '1980-01-01T25:00Z', '1980-01-01T10:00+15:00', 'yesterday', '1980-01-01 10:00'])('"%s" is not a date', (value) => {
    expect(parseDateRange(value)).toBeUndefined();
  });

  test('a Period spans from the start of its start to the end of its end; open ends are unbounded', () => {
    expect(iso(periodRange({ start: '2020', end: '2021-06' }))).toEqual(['2020-01-01T00:00:00.000Z', '2021-07-01T00:00:00.000Z']);
    expect(periodRange({ start: '2020' })?.e).toEqual(MAX_DATE);
    expect(periodRange({ end: '2020' })?.s).toEqual(MIN_DATE);
    expect(periodRange({})).toBeUndefined();
    expect(periodRange({ start: 'nope' })).toBeUndefined();
  });
});

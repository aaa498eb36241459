/** A half-open instant range [s, e): what a FHIR date, dateTime, instant or Period covers. */
export interface DateRange {
  s: Date;
  e: Date;
}

/** The earliest and latest instants JavaScript dates can hold: open Period ends. */
export const MIN_DATE = new Date(-8.64e15);
export const MAX_DATE = new Date(8.64e15);

const DATE = /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$/;

function daysIn(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/**
 * The range a FHIR date/dateTime/instant value covers, at its precision ("1980" is the whole
 * year, "1980-05-01T10:00Z" one minute). Times without a zone are read as UTC. Undefined when
 * the value is not a valid date.
 */
export function parseDateRange(value: string): DateRange | undefined {
  const m = DATE.exec(value);
  if (!m) {
    return undefined;
  }
  const [, y, mo, d, h, mi, sec, frac, zone] = m;
  const year = Number(y);
  const month = mo ? Number(mo) : 1;
  const day = d ? Number(d) : 1;
  const hour = h ? Number(h) : 0;
  const minute = mi ? Number(mi) : 0;
  const second = sec ? Number(sec) : 0;
  if (month < 1 || month > 12 || day < 1 || day > daysIn(year, month) || hour > 23 || minute > 59 || second > 59) {
    return undefined;
  }
  if (!mo) {
    return { s: new Date(Date.UTC(year, 0, 1)), e: new Date(Date.UTC(year + 1, 0, 1)) };
  }
  if (!d) {
    return { s: new Date(Date.UTC(year, month - 1, 1)), e: new Date(Date.UTC(year, month, 1)) };
  }
  if (!h) {
    return { s: new Date(Date.UTC(year, month - 1, day)), e: new Date(Date.UTC(year, month - 1, day + 1)) };
  }
  let offsetMinutes = 0;
  if (zone && zone !== 'Z') {
    const sign = zone.startsWith('-') ? -1 : 1;
    const [zh, zm] = zone.slice(1).split(':').map(Number);
    if (zh > 14 || zm > 59) {
      return undefined;
    }
    offsetMinutes = sign * (zh * 60 + zm);
  }
  const ms = frac ? Number(frac.slice(0, 3).padEnd(3, '0')) : 0;
  const start = Date.UTC(year, month - 1, day, hour, minute, second, ms) - offsetMinutes * 60_000;
  const width = frac ? 1 : sec ? 1000 : 60_000;
  return { s: new Date(start), e: new Date(start + width) };
}

/** The range of a Period (open ends reach the earliest/latest instant), or undefined. */
export function periodRange(period: { start?: string; end?: string }): DateRange | undefined {
  const start = period.start ? parseDateRange(period.start) : undefined;
  const end = period.end ? parseDateRange(period.end) : undefined;
  if ((period.start && !start) || (period.end && !end) || (!start && !end)) {
    return undefined;
  }
  return { s: start?.s ?? MIN_DATE, e: end?.e ?? MAX_DATE };
}

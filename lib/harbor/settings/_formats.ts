import { show } from '../../private/validation';

// The forms Harbor gives its values: quota sizes, ISO dates and crons; checked by
// `checkSettings`, converted by `renderSettings`.

const QUOTA_UNITS: Record<string, number> = { Mi: 1024 ** 2, Gi: 1024 ** 3, Ti: 1024 ** 4 };

export function quota(value: string | number): string | undefined {
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) return 'is not a whole number of bytes';
    if (value === -1 || value >= 1) return undefined;
    return value === 0
      ? 'is no quota: Harbor reads 0 as "the system default"; use a size, or -1 for unlimited'
      : 'is below zero; use a size, or -1 / "unlimited" for no limit';
  }
  if (value === 'unlimited') return undefined;
  const match = /^([1-9]\d{0,8})(Mi|Gi|Ti)$/.exec(value);
  if (!match) return 'is not a size; use e.g. "500Mi", "10Gi", "2Ti", or "unlimited"';
  // Harbor stores bytes as a 64-bit integer, and JSON carries exact integers up to 2^53
  return Number.isSafeInteger(bytesOfQuota(value))
    ? undefined
    : 'is above 8192Ti, more than a quota can hold exactly; use a smaller size or "unlimited"';
}

/** Bytes of a quota that `quota` accepts; -1 is unlimited. */
export function bytesOfQuota(value: string | number): number {
  if (typeof value === 'number') return value;
  if (value === 'unlimited') return -1;
  return Number(value.slice(0, -2)) * QUOTA_UNITS[value.slice(-2)];
}

/** Unix seconds of an ISO date (UTC midnight) or date-time with a zone; undefined if neither. */
export function unixSeconds(value: string): number | undefined {
  const iso =
    /^\d{4}-\d{2}-\d{2}$/.test(value) ||
    /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(value);
  const millis = iso ? Date.parse(value) : NaN;
  // Date.parse rolls 2026-02-30 over into March: the day must exist in its month
  const [year, month, day] = value.slice(0, 10).split('-').map(Number);
  const exists = new Date(Date.UTC(year, month - 1, day)).getUTCDate() === day && month <= 12;
  return Number.isFinite(millis) && exists ? Math.floor(millis / 1000) : undefined;
}

/** The ranges of the cron fields after the seconds, and the names a field may use. */
const CRON_FIELDS: { name: string; min: number; max: number; names?: string[] }[] = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  {
    name: 'month',
    min: 1,
    max: 12,
    names: ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'],
  },
  { name: 'day of week', min: 0, max: 6, names: ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'] },
];

/**
 * A cron Harbor accepts: 6 fields separated by spaces, seconds first and exactly `0` (its
 * `ValidateCronString`), the others in the ranges of its cron parser.
 */
export function harborCron(value: string): string | undefined {
  const fields = value.trim().split(/\s+/);
  if (value !== value.trim() || value === '') {
    return 'is not a cron; use 6 fields, seconds first, like "0 0 2 * * *"';
  }
  if (fields.length === 5) {
    return `has 5 fields; Harbor crons have 6, seconds first: prepend "0 " ("0 ${value}")`;
  }
  if (fields.length !== 6) {
    return `has ${fields.length} fields; Harbor crons have 6, seconds first, like "0 0 2 * * *"`;
  }
  if (fields[0] !== '0') {
    return 'starts with a seconds field other than 0, which Harbor rejects; use "0" first';
  }
  for (const [i, spec] of CRON_FIELDS.entries()) {
    if (!cronField(fields[i + 1], spec)) {
      return `has a ${spec.name} field ${show(fields[i + 1])} out of ${spec.min}-${spec.max}`;
    }
  }
  return undefined;
}

function cronField(text: string, spec: (typeof CRON_FIELDS)[number]): boolean {
  const value = (v: string): number | undefined => {
    const named = spec.names?.indexOf(v.toUpperCase()) ?? -1;
    const n = named >= 0 ? named + spec.min : /^\d{1,2}$/.test(v) ? Number(v) : NaN;
    return n >= spec.min && n <= spec.max ? n : undefined;
  };
  return text.split(',').every((part) => {
    const [range, step, extra] = part.split('/');
    if (extra !== undefined) return false;
    if (step !== undefined && !(/^\d{1,2}$/.test(step) && Number(step) >= 1)) return false;
    if (range === '*' || range === '?') return true;
    const [from, to, more] = range.split('-');
    if (more !== undefined) return false;
    const low = value(from);
    const high = to === undefined ? low : value(to);
    return low !== undefined && high !== undefined && low <= high;
  });
}

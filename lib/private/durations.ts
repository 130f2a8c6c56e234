const DURATION = /^(\d+)(h|m)$/;

/**
 * Hours of a cert-manager duration written in whole hours or minutes (`2160h`, `90m`). Longer
 * Go forms (`1h30m`) are refused on purpose: one unit is easier to compare at a glance.
 */
export function parseHours(value: string, field: string): number {
  const match = DURATION.exec(value);
  if (!match || Number(match[1]) === 0) {
    throw new Error(
      `${field}: ${JSON.stringify(value)} is not a duration; use whole hours` +
        ' ("2160h") or minutes ("90m")',
    );
  }
  return match[2] === 'h' ? Number(match[1]) : Number(match[1]) / 60;
}

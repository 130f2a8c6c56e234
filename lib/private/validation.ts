import { Check } from './checks';

/**
 * Collects every problem of one input before throwing, so that a user fixes them in one pass.
 * Each message names the field, the value received and what to do.
 */
export class Problems {
  private readonly messages: string[] = [];

  public add(field: string, message: string): void {
    this.messages.push(`${field}: ${message}`);
  }

  public check(condition: boolean, field: string, message: string): void {
    if (!condition) this.add(field, message);
  }

  /** Runs a check of one value, if it is set, and records what it finds. */
  public value<T>(field: string, value: T | undefined, check: Check<T>): void {
    if (value === undefined) return;
    const problem = check(value);
    if (problem) this.add(field, `${show(value)} ${problem}`);
  }

  public get all(): readonly string[] {
    return [...this.messages];
  }

  /** Takes over problems found elsewhere, such as by another construct's checks. */
  public addAll(messages: readonly string[]): void {
    this.messages.push(...messages);
  }

  public get count(): number {
    return this.messages.length;
  }

  /**
   * Builds something whose constructor validates, recording its problems under `prefix`
   * instead of throwing, so that every problem of an input is reported in one pass.
   */
  public capture<T>(
    prefix: string,
    build: () => T,
    renames: Readonly<Record<string, string>> = {},
  ): T | undefined {
    try {
      return build();
    } catch (err) {
      // anything but a problem of the input is a fault of ours, not of the user's settings
      if (!(err instanceof ConfigurationError)) throw err;
      this.addAll(err.problems.map((problem) => renamed(problem, prefix, renames)));
      return undefined;
    }
  }

  /** Throws a `ConfigurationError` listing every collected problem, if there is any. */
  public throwIfAny(subject: string): void {
    if (this.messages.length > 0) throw new ConfigurationError(subject, this.messages);
  }
}

/**
 * A construct's problem under the name the user wrote: `renames` maps a prop path to the
 * setting it comes from; other props get `prefix`.
 */
function renamed(
  problem: string,
  prefix: string,
  renames: Readonly<Record<string, string>>,
): string {
  const field = problem.slice(0, problem.indexOf(':'));
  for (const [from, to] of Object.entries(renames)) {
    if (field === from || field.startsWith(`${from}.`) || field.startsWith(`${from}[`)) {
      return `${to}${problem.slice(from.length)}`;
    }
  }
  return `${prefix}${problem}`;
}

/** An input that contradicts itself or Harbor's rules. */
export class ConfigurationError extends Error {
  public constructor(
    subject: string,
    public readonly problems: readonly string[],
  ) {
    super(`invalid ${subject}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigurationError';
  }
}

/** A JSON-ish rendering of a received value for error messages. */
export function show(value: unknown): string {
  if (value === undefined) return '(not set)';
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  return JSON.stringify(value);
}

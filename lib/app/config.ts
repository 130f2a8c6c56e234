import * as fs from 'fs';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { DEFAULT_CONFIG } from './profile';
import { ConfigurationError, show } from '../private/validation';

const name = z
  .string()
  .regex(
    /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/,
    "must be a Kubernetes object name (lowercase letters, digits, '-' and '.')",
  );
const size = z.string().regex(/^[1-9]\d*(Mi|Gi)$/, 'must be a size like "512Mi" or "50Gi"');
const duration = z
  .string()
  .regex(/^[1-9]\d*(h|m)$/, 'must be whole hours ("2160h") or minutes ("90m")');
const port = z.number().int().min(1).max(65535);
const replicas = z.number().int().min(1).max(20);
const secretKeyRef = z.strictObject({ name, key: z.string().min(1) });
const accessMode = z.enum(['ReadWriteOnce', 'ReadWriteMany']);

const storage = z.strictObject({
  storageClassName: name,
  size,
  accessMode: accessMode.optional(),
});
const resources = z.strictObject({
  cpu: z.string().regex(/^(\d+m|\d+(\.\d+)?)$/, 'must be a CPU amount like "250m" or "1"'),
  memory: size,
  memoryLimit: size.optional(),
});

const tls = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('selfSigned'),
    ca: z
      .strictObject({
        commonName: z.string().min(1).max(64).optional(),
        organization: z.string().min(1).optional(),
        duration: duration.optional(),
      })
      .optional(),
    duration: duration.optional(),
    renewBefore: duration.optional(),
  }),
  z.strictObject({
    type: z.literal('issuer'),
    name,
    kind: z.enum(['Issuer', 'ClusterIssuer']).optional(),
    duration: duration.optional(),
    renewBefore: duration.optional(),
  }),
  z.strictObject({
    type: z.literal('secret'),
    secretName: name,
  }),
]);

// the built-in PostgreSQL and Redis take the same settings
const internal = z.strictObject({
  type: z.literal('internal'),
  storage,
  allowNfs: z.boolean().optional(),
  resources: resources.optional(),
});

const database = z.discriminatedUnion('type', [
  internal,
  z.strictObject({
    type: z.literal('external'),
    host: z.string().min(1),
    port: port.optional(),
    database: z.string().min(1).optional(),
    username: z.string().min(1).optional(),
    password: secretKeyRef,
    sslMode: z.enum(['disable', 'require', 'verify-ca', 'verify-full']).optional(),
  }),
]);

const redis = z.discriminatedUnion('type', [
  internal,
  z.strictObject({
    type: z.literal('external'),
    host: z.string().min(1),
    port: port.optional(),
    tls: z.boolean().optional(),
    username: z.string().min(1).optional(),
    password: secretKeyRef.optional(),
  }),
]);

const trivy = z.strictObject({
  enabled: z.boolean(),
  storage,
  allowNfs: z.boolean().optional(),
  ignoreUnfixed: z.boolean().optional(),
  severities: z
    .array(z.enum(['UNKNOWN', 'LOW', 'MEDIUM', 'HIGH', 'CRITICAL']))
    .min(1)
    .optional(),
  resources: resources.optional(),
});

/** The app's configuration file, as validated. Field names follow the constructs' props. */
export const configSchema = z.strictObject({
  instance: z.string(),
  namespace: name,
  host: z.string(),
  port: port.optional(),
  logLevel: z.enum(['debug', 'info', 'warning', 'error', 'fatal']),
  ipv6: z.boolean(),
  images: z.strictObject({
    version: z.string().regex(/^v2\.\d+\.\d+$/, 'must be a Harbor 2.x release tag like "v2.15.2"'),
    registry: z.string().min(1),
  }),
  tls,
  caBundle: secretKeyRef.optional(),
  ingressClassName: name,
  registryStorage: storage,
  nfsStorageClasses: z.array(name),
  database,
  redis,
  trivy,
  replicas: z.strictObject({
    core: replicas.optional(),
    portal: replicas.optional(),
    registry: replicas.optional(),
    jobservice: replicas.optional(),
  }),
  existingSecrets: z.strictObject({
    secretKey: secretKeyRef.optional(),
    csrfKey: secretKeyRef.optional(),
    coreSecret: secretKeyRef.optional(),
    jobserviceSecret: secretKeyRef.optional(),
    registryHttpSecret: secretKeyRef.optional(),
    registryCredentials: name.optional(),
    adminPassword: secretKeyRef.optional(),
    tokenKey: secretKeyRef.optional(),
    databasePassword: secretKeyRef.optional(),
  }),
});

export type HarborConfig = z.infer<typeof configSchema>;

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function isObject(value: unknown): value is Record<string, Json> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Lays an override over a base. Objects merge key by key; arrays and scalars replace; an
 * object whose `type` differs from the base's replaces it whole, because its other keys
 * belong to the other type.
 */
export function overlay(base: Json, override: Json): Json {
  if (!isObject(base) || !isObject(override)) return override;
  if ('type' in override && base.type !== override.type) return override;
  const result: Record<string, Json> = { ...base };
  for (const [key, value] of Object.entries(override)) {
    result[key] = key in base ? overlay(base[key], value) : value;
  }
  return result;
}

function valueAt(input: unknown, path: PropertyKey[]): unknown {
  let node: unknown = input;
  for (const key of path) {
    if (!isObject(node) && !Array.isArray(node)) return undefined;
    node = (node as Record<PropertyKey, unknown>)[key];
  }
  return node;
}

function describe(issue: z.core.$ZodIssue, input: unknown): string {
  const field = issue.path.join('.') || '(top level)';
  switch (issue.code) {
    case 'unrecognized_keys': {
      const prefix = issue.path.length > 0 ? `${field}.` : '';
      const section = valueAt(input, issue.path);
      const type = isObject(section) && typeof section.type === 'string' ? section.type : undefined;
      const hint = type
        ? `is not a setting of ${field} with type ${show(type)}; remove it or change the type`
        : 'remove it or check its spelling against the README';
      return issue.keys.map((key) => `${prefix}${key}: unknown key; ${hint}`).join('\n');
    }
    case 'invalid_union':
      if ('options' in issue && Array.isArray(issue.options)) {
        return (
          `${field}: ${show(valueAt(input, issue.path))} is not allowed; use one of` +
          ` ${issue.options.map((o) => show(o)).join(', ')}`
        );
      }
      return `${field}: ${show(valueAt(input, issue.path))} does not match any allowed form`;
    case 'invalid_value':
      return (
        `${field}: ${show(valueAt(input, issue.path))} is not allowed; use one of` +
        ` ${issue.values.map((v) => show(v)).join(', ')}`
      );
    case 'invalid_type': {
      const value = valueAt(input, issue.path);
      const received = value === undefined ? 'missing' : `${show(value)} is a ${kindOf(value)}`;
      return `${field}: ${received}; expected a ${issue.expected}`;
    }
    default:
      return `${field}: ${show(valueAt(input, issue.path))} ${lowerFirst(issue.message)}`;
  }
}

function kindOf(value: unknown): string {
  if (Array.isArray(value)) return 'list';
  if (value === null) return 'null';
  return typeof value === 'object' ? 'mapping' : typeof value;
}

function lowerFirst(message: string): string {
  const text = message.replace(/^Invalid input: /, '');
  return text.charAt(0).toLowerCase() + text.slice(1);
}

/** Validates a merged configuration, reporting every problem at once. */
export function parseConfig(input: unknown, source: string): HarborConfig {
  const result = configSchema.safeParse(input);
  if (!result.success) {
    const problems = result.error.issues.flatMap((issue) => describe(issue, input).split('\n'));
    throw new ConfigurationError(`configuration in ${source}`, problems);
  }
  return result.data;
}

/** Reads a YAML file and lays it over the built-in non-production profile. */
export function loadConfig(file?: string): HarborConfig {
  if (!file) return parseConfig(DEFAULT_CONFIG, 'the built-in profile');

  let text: string;
  try {
    text = fs.readFileSync(file, 'utf-8');
  } catch (err) {
    throw new ConfigurationError(`configuration file ${file}`, [
      `cannot be read: ${(err as Error).message}`,
    ]);
  }
  const document = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (document.errors.length > 0) {
    throw new ConfigurationError(
      `YAML in ${file}`,
      document.errors.map((e) => e.message),
    );
  }
  const override = (document.toJS() ?? {}) as Json;
  if (!isObject(override)) {
    throw new ConfigurationError(`configuration file ${file}`, [
      '(top level): must be a mapping of settings, like the files in examples/',
    ]);
  }
  return parseConfig(overlay(DEFAULT_CONFIG as unknown as Json, override), file);
}

import * as fs from 'fs';
import * as path from 'path';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { DEFAULT_CONFIG } from './profile';
import { settingsSchema } from './settings';
import * as checks from '../private/checks';
import { Check } from '../private/checks';
import { ConfigurationError, show } from '../private/validation';

/** A string that passes one of the checks the constructs use too. */
function checked(check: Check<string>) {
  return z.string().superRefine((value, ctx) => {
    const problem = check(value);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });
}

function checkedNumber(check: Check<number>) {
  return z.number().superRefine((value, ctx) => {
    const problem = check(value);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });
}

const name = checked(checks.objectName);
const size = checked(checks.size);
const port = checkedNumber(checks.port);
const replicas = checkedNumber((n) =>
  Number.isInteger(n) && n >= 1 && n <= 20 ? undefined : 'is not a whole number from 1 to 20',
);
const secretKeyRef = z.strictObject(
  { name, key: checked(checks.dataKey) },
  { error: 'must be a Secret reference: a mapping with name and key' },
);
const accessMode = z.enum(['ReadWriteOnce', 'ReadWriteMany']);
const certificateDuration = checked(checks.duration(1, '1h'));
const renewBefore = checked(checks.duration(5 / 60, '5m'));

const storage = z.strictObject({
  storageClassName: name,
  size,
  accessMode: accessMode.optional(),
});
const resources = z.strictObject({
  cpu: checked(checks.cpu),
  memory: size,
  memoryLimit: size.optional(),
});

const issuerKind = z.enum(['Issuer', 'ClusterIssuer']);
const lifetime = {
  duration: certificateDuration.optional(),
  renewBefore: renewBefore.optional(),
};

/** A Vault path segment: a mount, a role or a policy name. */
const vaultName = z.string().regex(/^[A-Za-z0-9_-]+(\/[A-Za-z0-9_-]+)*$/, {
  message: 'is not a Vault name; use letters, digits, "_" and "-" (and "/" in a mount path)',
});

/** The Vault issuer: cert-manager has Vault's PKI sign Harbor's certificate. */
const vault = z.strictObject({
  type: z.literal('vault'),
  issuerKind: issuerKind.optional(),
  server: z.string().optional(),
  serverCa: secretKeyRef.optional(),
  mount: z.string().optional(),
  role: z.string().optional(),
  maxDuration: certificateDuration.optional(),
  auth: z.strictObject({ mountPath: vaultName.optional(), role: z.string().optional() }).optional(),
  rootCa: z.strictObject({ name, key: checked(checks.dataKey).optional() }).optional(),
  setup: z
    .strictObject({
      credentials: secretKeyRef.optional(),
      rootMount: vaultName.optional(),
      rootCommonName: z.string().min(1).max(64).optional(),
      intermediateCommonName: z.string().min(1).max(64).optional(),
      organization: z.string().min(1).optional(),
      rootTtl: certificateDuration.optional(),
      intermediateTtl: certificateDuration.optional(),
      keyType: z.enum(['ec-256', 'ec-384', 'rsa-2048', 'rsa-4096']).optional(),
      allowSubdomains: z.boolean().optional(),
      configureKubernetesAuth: z.boolean().optional(),
      kubernetesHost: z.string().optional(),
    })
    .optional(),
  inClusterServer: z
    .strictObject({
      namespace: checked(checks.namespace).optional(),
      storage: z.strictObject({ storageClassName: name, size: size.optional() }),
      image: z.string().optional(),
      ui: z.boolean().optional(),
    })
    .optional(),
  ...lifetime,
});

/** An ACME CA: Let's Encrypt or a commercial CA's ACME endpoint. */
const acme = z.strictObject({
  type: z.literal('acme'),
  issuerKind: issuerKind.optional(),
  server: z.string(),
  email: z.string(),
  http01: z.strictObject({ ingressClassName: name.optional() }).optional(),
  dns01: z
    .strictObject({
      rfc2136: z.strictObject({
        nameserver: z.string(),
        tsigKeyName: z.string().min(1).optional(),
        tsigAlgorithm: z.string().min(1).optional(),
        tsigSecret: secretKeyRef.optional(),
      }),
    })
    .optional(),
  externalAccountBinding: z
    .strictObject({ keyId: z.string().min(1), keySecret: secretKeyRef })
    .optional(),
  ...lifetime,
});

const tls = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('selfSigned'),
    issuerKind: issuerKind.optional(),
    ca: z
      .strictObject({
        commonName: z.string().min(1).max(64).optional(),
        organization: z.string().min(1).optional(),
        duration: certificateDuration.optional(),
      })
      .optional(),
    ...lifetime,
  }),
  vault,
  acme,
  z.strictObject({
    type: z.literal('issuer'),
    name,
    kind: issuerKind.optional(),
    maxDuration: certificateDuration.optional(),
    ...lifetime,
  }),
  z.strictObject({
    type: z.literal('secret'),
    secretName: name,
    chainFile: z.string().min(1).optional(),
    rootsFile: z.string().min(1).optional(),
  }),
]);

/** How Harbor is reached: an Ingress for ingress-nginx or Traefik, or a Gateway API HTTPRoute. */
const exposure = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('nginx'), className: name.optional() }),
  z.strictObject({
    type: z.literal('traefik'),
    className: name.optional(),
    entryPoints: z.array(z.string()).optional(),
  }),
  z.strictObject({
    type: z.literal('gatewayApi'),
    gateway: z.strictObject({
      name,
      namespace: checked(checks.label),
      sectionName: z.string().optional(),
    }),
  }),
]);

/** HTTPS between Harbor's components, from a self-signed CA of its own or a named issuer. */
const internalTls = z.discriminatedUnion('enabled', [
  z.strictObject({
    enabled: z.literal(true),
    issuer: z
      .strictObject({
        name,
        kind: issuerKind.optional(),
        maxDuration: certificateDuration.optional(),
      })
      .optional(),
    ...lifetime,
  }),
  z.strictObject({ enabled: z.literal(false) }),
]);

/** Where cert-manager runs. */
const certManager = z.strictObject({
  namespace: checked(checks.namespace).optional(),
  serviceAccountName: name.optional(),
  clusterResourceNamespace: checked(checks.namespace).optional(),
});

const trustSource = z.strictObject({
  kind: z.enum(['ConfigMap', 'Secret']),
  name,
  key: checked(checks.dataKey).optional(),
});

/** How the private root CA reaches Harbor, the namespaces that ask for it, and the nodes. */
const trust = z.strictObject({
  trustNamespace: checked(checks.namespace).optional(),
  bundleName: name.optional(),
  extraSources: z.array(trustSource).optional(),
  nodes: z
    .strictObject({
      namespace: checked(checks.namespace).optional(),
      containerd: z.boolean().optional(),
      containerdCertsDir: z.string().optional(),
      containerdConfigCheck: z.boolean().optional(),
      docker: z.boolean().optional(),
      dockerCertsDir: z.string().optional(),
      rancher: z.enum(['k3s', 'rke2']).optional(),
      interval: z.string().optional(),
      image: z.string().optional(),
    })
    .optional(),
});

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
    host: checked(checks.serverAddress),
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
    host: checked(checks.serverAddress),
    port: port.optional(),
    tls: z.boolean().optional(),
    username: checked(checks.urlUser).optional(),
    password: secretKeyRef.optional(),
  }),
]);

const trivy = z.discriminatedUnion('enabled', [
  z.strictObject({
    enabled: z.literal(true),
    storage,
    allowNfs: z.boolean().optional(),
    ignoreUnfixed: z.boolean().optional(),
    severities: z
      .array(z.enum(['UNKNOWN', 'LOW', 'MEDIUM', 'HIGH', 'CRITICAL']))
      .min(1)
      .optional(),
    resources: resources.optional(),
    airGapped: z.boolean().optional(),
    dbRepository: z.array(z.string()).optional(),
    javaDbRepository: z.array(z.string()).optional(),
    dbPreloaded: z.boolean().optional(),
    skipUpdate: z.boolean().optional(),
    skipJavaDbUpdate: z.boolean().optional(),
    offlineScan: z.boolean().optional(),
  }),
  z.strictObject({ enabled: z.literal(false) }),
]);

const uid = (n: number) =>
  Number.isInteger(n) && n >= 0 && n <= 2 ** 31 - 1 ? undefined : 'is not a uid or gid';

const nfsExport = z.strictObject({
  server: checked(checks.serverAddress),
  share: z.string(),
  squash: z.enum(['no_root_squash', 'root_squash', 'all_squash']),
  anonUid: checkedNumber(uid).optional(),
  anonGid: checkedNumber(uid).optional(),
  version: z.enum(['3', '4.0', '4.1', '4.2']).optional(),
  mountOptions: z.array(z.string()).optional(),
  allowNoLock: z.boolean().optional(),
});
const inClusterServer = z.strictObject({
  clusterIP: z.string(),
  storage: z.strictObject({ storageClassName: name, size }),
});
const onDelete = z.enum(['retain', 'archive', 'delete']);
// a section whose type changes is replaced whole, so these have defaults of their own
const provisionerNamespace = checked(checks.label).default('csi-nfs');
const nfsClassName = name.default('nfs-csi');

/** Where the shared NFS storage comes from: the export either exists or runs in the cluster. */
const nfs = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('csiDriverNfs'),
    namespace: provisionerNamespace,
    storageClassName: nfsClassName,
    onDelete: onDelete.optional(),
    subDir: z.string().optional(),
    mountPermissions: z.string().optional(),
    kubeletDir: z.string().optional(),
    export: nfsExport.optional(),
    inClusterServer: inClusterServer.optional(),
  }),
  z.strictObject({
    type: z.literal('nfsSubdir'),
    namespace: provisionerNamespace,
    storageClassName: nfsClassName,
    onDelete: onDelete.optional(),
    pathPattern: z.string().optional(),
    preflight: z.boolean().optional(),
    export: nfsExport.optional(),
    inClusterServer: inClusterServer.optional(),
  }),
  z.strictObject({
    type: z.literal('static'),
    storageClassName: nfsClassName,
    subPath: z.string().optional(),
    export: nfsExport,
  }),
  z.strictObject({ type: z.literal('none') }),
]);

/** A scheduled dump of Harbor's database. */
const backup = z.discriminatedUnion('enabled', [
  z.strictObject({
    enabled: z.literal(true),
    storage,
    schedule: z.string().optional(),
    retain: z.number().optional(),
    timeZone: z.string().optional(),
    resources: resources.optional(),
  }),
  z.strictObject({ enabled: z.literal(false) }),
]);

/** Prometheus metrics; the values are checked where the Harbor construct checks them. */
const metrics = z.strictObject({
  enabled: z.boolean(),
  serviceMonitor: z
    .strictObject({
      enabled: z.boolean().optional(),
      namespace: z.string().optional(),
      labels: z.record(z.string(), z.string()).optional(),
      interval: z.string().optional(),
    })
    .optional(),
  exporterResources: resources.optional(),
});

/** Pods of another namespace; the values are checked where the Harbor construct checks them. */
const podPeer = z.strictObject({
  namespace: z.string(),
  podLabels: z.record(z.string(), z.string()).optional(),
});
const endpoints = z.strictObject({ cidrs: z.array(z.string()), ports: z.array(z.number()) });
const addresses = z.strictObject({ cidrs: z.array(z.string()) });

/** Default-deny NetworkPolicies in Harbor's namespace with exactly Harbor's flows. */
const networkPolicies = z.discriminatedUnion('enabled', [
  z.strictObject({
    enabled: z.literal(true),
    ingressController: podPeer.optional(),
    dns: podPeer.optional(),
    kubernetesApi: endpoints.optional(),
    externalEgress: z.array(endpoints).optional(),
    trivyEgress: z.array(endpoints).optional(),
    database: addresses.optional(),
    redis: addresses.optional(),
    vault: addresses.optional(),
    metricsScrapers: podPeer.optional(),
  }),
  z.strictObject({ enabled: z.literal(false) }),
]);

/** Where Argo CD reads the synthesized files; without it, `dist/` is for kubectl. */
const argocd = z.strictObject({
  repoURL: z.string(),
  targetRevision: z.string().optional(),
  path: z.string(),
  argoNamespace: z.string().optional(),
  project: z.string().optional(),
  server: z.string().optional(),
});

/** The app's configuration file, as validated. Field names follow the constructs' props. */
export const configSchema = z.strictObject({
  instance: checked(checks.instanceName),
  namespace: checked(checks.namespace),
  host: checked(checks.dnsName),
  port: port.optional(),
  logLevel: z.enum(['debug', 'info', 'warning', 'error', 'fatal']),
  ipv6: z.boolean(),
  images: z.strictObject({
    version: checked(checks.harborVersion),
    registry: checked(checks.imageRegistry).optional(),
  }),
  tls,
  internalTls: internalTls.optional(),
  certManager: certManager.optional(),
  trust: trust.optional(),
  caBundle: secretKeyRef.optional(),
  ingressClassName: name.optional(),
  exposure: exposure.optional(),
  registryStorage: storage,
  nfs,
  nfsStorageClasses: z.array(name),
  argocd: argocd.optional(),
  backup,
  metrics: metrics.optional(),
  networkPolicies: networkPolicies.optional(),
  database,
  redis,
  trivy,
  replicas: z.strictObject({
    core: replicas.optional(),
    portal: replicas.optional(),
    registry: replicas.optional(),
    jobservice: replicas.optional(),
  }),
  highAvailability: z.boolean().optional(),
  settings: settingsSchema.optional(),
  resources: z
    .strictObject({
      core: resources.optional(),
      portal: resources.optional(),
      registry: resources.optional(),
      jobservice: resources.optional(),
    })
    .optional(),
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
 * Lays an override over a base. Objects merge key by key; arrays and scalars replace; null
 * removes; an object whose `type` (or `enabled`) differs from the base's replaces it whole,
 * because its other keys belong to the other form.
 */
export function overlay(base: Json, override: Json): Json {
  if (!isObject(base) || !isObject(override)) return override;
  for (const switchKey of ['type', 'enabled']) {
    if (switchKey in override && base[switchKey] !== override[switchKey]) return override;
  }
  const result: Record<string, Json> = { ...base };
  for (const [key, value] of Object.entries(override)) {
    // null removes a setting of the base, such as the profile's export for a demo server
    if (value === null) delete result[key];
    else result[key] = key in base ? overlay(base[key], value) : value;
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

/** `a.b[0].c`, as the rest of the messages write paths. */
function pathOf(path: PropertyKey[]): string {
  return path
    .map((key, i) => (typeof key === 'number' ? `[${key}]` : `${i > 0 ? '.' : ''}${String(key)}`))
    .join('');
}

function describe(issue: z.core.$ZodIssue, input: unknown): string {
  const field = pathOf(issue.path) || '(top level)';
  switch (issue.code) {
    case 'unrecognized_keys': {
      const prefix = issue.path.length > 0 ? `${field}.` : '';
      const section = valueAt(input, issue.path);
      const type = isObject(section) && typeof section.type === 'string' ? section.type : undefined;
      const off = isObject(section) && section.enabled === false;
      const known = (key: string) => settingsOfSection(issue.path).has(key);
      const hint = type
        ? `unknown key; is not a setting of ${field} with type ${show(type)}; remove it or` +
          ' change the type'
        : off
          ? `is a setting of ${field} that has no effect while enabled is false; remove it, or` +
            ' set enabled to true'
          : 'unknown key; remove it or check its spelling against the README';
      const unknown = 'unknown key; remove it or check its spelling against the README';
      return issue.keys
        .map((key) => `${prefix}${key}: ${off && !known(key) ? unknown : hint}`)
        .join('\n');
    }
    case 'invalid_union':
      if ('options' in issue && Array.isArray(issue.options)) {
        return (
          `${field}: ${show(valueAt(input, issue.path))} is not allowed; use one of` +
          ` ${issue.options.map((o) => show(o)).join(', ')}`
        );
      }
      return `${field}: ${show(valueAt(input, issue.path))} does not match any allowed form`;
    case 'invalid_value': {
      const value = valueAt(input, issue.path);
      const quote =
        typeof value === 'number' && issue.values.includes(String(value))
          ? ` (write it in quotes: "${value}")`
          : '';
      return (
        `${field}: ${show(value)} is not allowed; use one of` +
        ` ${issue.values.map((v) => show(v)).join(', ')}${quote}`
      );
    }
    case 'invalid_type': {
      const value = valueAt(input, issue.path);
      const received = value === undefined ? 'is missing' : `${show(value)} is ${kindOf(value)}`;
      // a schema's own message says more than the type it expected
      const expected = issue.message.startsWith('Invalid input')
        ? `expected ${EXPECTED[issue.expected] ?? issue.expected}`
        : issue.message;
      return `${field}: ${received}; ${expected}`;
    }
    default:
      return `${field}: ${show(valueAt(input, issue.path))} ${lowerFirst(issue.message)}`;
  }
}

/** Every key any form of a top-level section takes, such as those of `enabled: true`. */
function settingsOfSection(path: PropertyKey[]): Set<string> {
  const keys = new Set<string>();
  let schema: unknown =
    path.length === 1 ? configSchema.shape[path[0] as keyof typeof configSchema.shape] : undefined;
  if (schema instanceof z.ZodOptional) schema = schema.unwrap();
  const forms = schema instanceof z.ZodDiscriminatedUnion ? schema.options : [];
  for (const form of forms) {
    if (form instanceof z.ZodObject) Object.keys(form.shape).forEach((key) => keys.add(key));
  }
  return keys;
}

const EXPECTED: Record<string, string> = {
  string: 'text',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
  object: 'a mapping',
  array: 'a list',
};

function kindOf(value: unknown): string {
  if (Array.isArray(value)) return 'a list';
  if (value === null) return 'empty';
  if (typeof value === 'number') return Number.isFinite(value) ? 'a number' : 'not a finite number';
  if (typeof value === 'object') return 'a mapping';
  return typeof value === 'string' ? 'text' : `a ${typeof value}`;
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
export function loadConfig(file?: string, source = file): HarborConfig {
  if (file === undefined) return parseConfig(DEFAULT_CONFIG, 'the built-in profile');
  const subject = `configuration file ${source}`;
  if (file === '') {
    throw new ConfigurationError('configuration file path', ['is empty; name a YAML file']);
  }

  let text: string;
  try {
    text = fs.readFileSync(file, 'utf-8');
  } catch (err) {
    throw new ConfigurationError(subject, [`cannot be read: ${(err as Error).message}`]);
  }
  const document = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (document.errors.length > 0) {
    throw new ConfigurationError(
      `YAML in ${source}`,
      document.errors.map((e) => e.message),
    );
  }
  let override: Json;
  try {
    override = (document.toJS() ?? {}) as Json;
  } catch (err) {
    throw new ConfigurationError(`YAML in ${source}`, [(err as Error).message]);
  }
  if (!isObject(override)) {
    throw new ConfigurationError(subject, [
      '(top level): must be a mapping of settings, like the files in examples/',
    ]);
  }
  const reserved = reservedKeys(override, []);
  if (reserved.length > 0) {
    throw new ConfigurationError(
      `configuration in ${source}`,
      reserved.map((key) => `${key}: unknown key; remove it`),
    );
  }
  const config = parseConfig(overlay(DEFAULT_CONFIG as unknown as Json, override), source ?? file);
  return withFilesFrom(path.dirname(file), config);
}

/** The configuration with the files it names resolved against the directory it came from. */
function withFilesFrom(dir: string, config: HarborConfig): HarborConfig {
  if (config.tls.type !== 'secret') return config;
  const resolve = (file?: string) => (file === undefined ? undefined : path.resolve(dir, file));
  return {
    ...config,
    tls: {
      ...config.tls,
      chainFile: resolve(config.tls.chainFile),
      rootsFile: resolve(config.tls.rootsFile),
    },
  };
}

/** Keys that would reach an object's prototype instead of a setting when merged. */
function reservedKeys(node: Json, path: string[]): string[] {
  if (Array.isArray(node)) return node.flatMap((item, i) => reservedKeys(item, [...path, `${i}`]));
  if (!isObject(node)) return [];
  return Object.keys(node).flatMap((key) =>
    ['__proto__', 'constructor', 'prototype'].includes(key)
      ? [[...path, key].join('.')]
      : reservedKeys(node[key], [...path, key]),
  );
}

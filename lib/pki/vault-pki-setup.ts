import { createHash } from 'crypto';
import { Chart, Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import { SecretKeyRef } from '../harbor/common';
import { HARBOR_UID } from '../harbor/core';
import { HarborImages } from '../harbor/images';
import { readAsset } from '../private/assets';
import {
  Check,
  dataKey,
  dnsName,
  duration,
  hoursOf,
  imageRegistry,
  label,
  namespace as namespaceCheck,
  objectName,
} from '../private/checks';
import { Problems, show } from '../private/validation';
import { containerSecurity, podSecurity, restrictPod } from '../private/workload';
import { mirrorImage, pinnedImage } from '../storage/images';
import { VAULT_IMAGE } from './vault-server';

/** The user and group of the `vault` user in the hashicorp/vault and OpenBao images. */
const VAULT_UID = 100;
const VAULT_GID = 1000;

/** A key of a ConfigMap that exists in the cluster. */
export interface ConfigMapKeyRef {
  readonly name: string;
  readonly key: string;
}

/** Where the CA certificate that signs Vault's TLS listener is kept. */
export class VaultCaBundle {
  public static fromSecret(ref: SecretKeyRef): VaultCaBundle {
    return new VaultCaBundle('secret', ref);
  }

  public static fromConfigMap(ref: ConfigMapKeyRef): VaultCaBundle {
    return new VaultCaBundle('configMap', ref);
  }

  private constructor(
    public readonly source: 'secret' | 'configMap',
    public readonly ref: { readonly name: string; readonly key: string },
  ) {}
}

/** Key algorithms for the root and intermediate CA keys. */
export enum VaultPkiKeyType {
  EC_256 = 'ec-256',
  EC_384 = 'ec-384',
  RSA_2048 = 'rsa-2048',
  RSA_4096 = 'rsa-4096',
}

/** Writes `auth/<mountPath>/config` for a Vault that runs inside this cluster. */
export interface KubernetesAuthConfigure {
  /** @default 'https://kubernetes.default.svc:443' */
  readonly kubernetesHost?: string;
}

/** The Kubernetes auth role cert-manager's Vault issuer logs in with. */
export interface VaultKubernetesAuthProps {
  /** @default 'kubernetes' */
  readonly mountPath?: string;
  readonly roleName: string;
  /** The ServiceAccount the issuer's `serviceAccountRef` names. */
  readonly serviceAccountName: string;
  readonly serviceAccountNamespace: string;
  /**
   * `vault://<namespace>/<issuer>` for an Issuer, `vault://<name>` for a ClusterIssuer:
   * the audience cert-manager puts in the token it requests.
   */
  readonly audience: string;
  /**
   * Lifetime of the Vault token a login returns.
   * @default '20m'
   */
  readonly tokenTtl?: string;
  /**
   * Enable the auth method when it is missing and write its config (kubernetes_host only,
   * which suits a Vault running in this cluster).
   * @default - the auth method is expected to be enabled and configured already
   */
  readonly configure?: KubernetesAuthConfigure;
}

/** Where the Job publishes the root CA certificate, for trust-manager to read. */
export interface RootCaConfigMapProps {
  readonly name: string;
  /** trust-manager reads sources only from its trust namespace. */
  readonly namespace: string;
  /** @default 'ca.crt' */
  readonly key?: string;
}

export interface VaultPkiSetupImagesProps {
  /**
   * The Vault CLI image; an OpenBao image works with `cli: 'bao'`.
   * @default VAULT_IMAGE
   */
  readonly vault?: string;
  /** @default 'vault' */
  readonly cli?: 'vault' | 'bao';
  /**
   * Image with python3 that publishes the root CA to its ConfigMap.
   * @default - Harbor's prepare image of the default release
   */
  readonly publisher?: string;
  /**
   * Registry host and path of a mirror that keeps upstream repository paths.
   * @default - the upstream registries
   */
  readonly registry?: string;
}

export interface VaultPkiSetupProps {
  /**
   * Prefix of the Job's and its objects' names.
   * @default 'vault-pki-setup'
   */
  readonly name?: string;
  /** Vault's address, `http(s)://host[:port]` without a path. */
  readonly server: string;
  /**
   * The CA that signs Vault's TLS listener, when it is a private one; https only.
   * @default - the image's system trust store
   */
  readonly caBundle?: VaultCaBundle;
  /**
   * A Vault token allowed to mount and tune secrets engines, write roles, policies and auth.
   * It is read from the Secret at run time and never appears in the manifests.
   */
  readonly credentials: SecretKeyRef;
  /** @default 'pki' */
  readonly rootMount?: string;
  /** @default 'pki_int' */
  readonly intermediateMount?: string;
  /**
   * The PKI role cert-manager signs with.
   * @default 'harbor'
   */
  readonly roleName?: string;
  /**
   * The policy that allows signing with the role, and nothing else.
   * @default `cert-manager-${roleName}`
   */
  readonly policyName?: string;
  /** @default 'cdk8s-harbor root CA' */
  readonly rootCommonName?: string;
  /** @default 'cdk8s-harbor intermediate CA' */
  readonly intermediateCommonName?: string;
  /** @default - no organization in the CA subjects */
  readonly organization?: string;
  /** @default '87600h' */
  readonly rootTtl?: string;
  /**
   * Shorter than `rootTtl`.
   * @default '43800h'
   */
  readonly intermediateTtl?: string;
  /**
   * Longest leaf lifetime, at most `intermediateTtl`.
   * @default '2160h'
   */
  readonly maxTtl?: string;
  /**
   * Leaf lifetime when the request names none, at most `maxTtl`.
   * @default '720h'
   */
  readonly ttl?: string;
  /** @default VaultPkiKeyType.EC_384 */
  readonly keyType?: VaultPkiKeyType;
  /** DNS names the role signs, e.g. Harbor's host. */
  readonly allowedDomains: readonly string[];
  /** @default false */
  readonly allowSubdomains?: boolean;
  /** @default true */
  readonly allowBareDomains?: boolean;
  /** @default false */
  readonly allowIpSans?: boolean;
  readonly kubernetesAuth: VaultKubernetesAuthProps;
  readonly rootCaConfigMap: RootCaConfigMapProps;
  /** @default - hashicorp/vault and Harbor's prepare image */
  readonly images?: VaultPkiSetupImagesProps;
}

/** The Vault PKI role's parameters, in the order they are written. */
export function vaultPkiRoleOptions(props: VaultPkiSetupProps): Record<string, string> {
  return {
    allowed_domains: props.allowedDomains.join(','),
    allow_subdomains: String(props.allowSubdomains ?? false),
    allow_bare_domains: String(props.allowBareDomains ?? true),
    allow_glob_domains: 'false',
    allow_localhost: 'false',
    allow_ip_sans: String(props.allowIpSans ?? false),
    enforce_hostnames: 'true',
    require_cn: 'false',
    key_type: 'any',
    server_flag: 'true',
    client_flag: 'false',
    max_ttl: props.maxTtl ?? '2160h',
    ttl: props.ttl ?? '720h',
  };
}

/** The policy cert-manager's token gets: the sign endpoint of the role, nothing else. */
export function vaultPkiPolicy(intermediateMount: string, roleName: string): string {
  return `path "${intermediateMount}/sign/${roleName}" {\n  capabilities = ["create", "update"]\n}`;
}

/** The Kubernetes auth role's parameters. */
export function vaultKubernetesRoleOptions(
  auth: VaultKubernetesAuthProps,
  policy: string,
): Record<string, string> {
  return {
    bound_service_account_names: auth.serviceAccountName,
    bound_service_account_namespaces: auth.serviceAccountNamespace,
    audience: auth.audience,
    token_policies: policy,
    token_ttl: auth.tokenTtl ?? '20m',
    token_max_ttl: auth.tokenTtl ?? '20m',
  };
}

const HOST_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/i;

/**
 * Checks a Vault address: `http(s)://host[:port]`, no path, query or user. Returns the rest of
 * an error sentence, or undefined when the address is good.
 */
export function checkVaultServer(value: string): string | undefined {
  const usage = 'is an invalid Vault server URL; use http(s)://host[:port] with no path';
  const match = /^(https?):\/\/([^/:?#@]+|\[[0-9a-f:.]+\])(?::(\d{1,5}))?\/?$/i.exec(value);
  if (!match) return usage;
  const host = match[2];
  const hostOk = host.startsWith('[')
    ? true
    : host.split('.').every((part) => HOST_LABEL.test(part) && part.length <= 63);
  if (!hostOk) return usage;
  if (match[3] !== undefined && (Number(match[3]) < 1 || Number(match[3]) > 65535)) {
    return `${usage}; the port must be 1 to 65535`;
  }
  return undefined;
}

const MOUNT = /^[A-Za-z0-9][A-Za-z0-9_-]{0,62}(\/[A-Za-z0-9][A-Za-z0-9_-]{0,62})*$/;

/** A Vault mount path or role/policy name, without leading or trailing slash. */
const vaultPath: Check<string> = (value) =>
  MOUNT.test(value)
    ? undefined
    : "is not a Vault path; use letters, digits, '_' and '-' (and '/' between parts)," +
      ' without leading or trailing slash';

const vaultName: Check<string> = (value) =>
  /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/.test(value)
    ? undefined
    : "is not a Vault name; use letters, digits, '_', '-' and '.'";

const lifetime = duration(1 / 60, '1m');

const KEY_TYPES: Record<VaultPkiKeyType, [string, string]> = {
  [VaultPkiKeyType.EC_256]: ['ec', '256'],
  [VaultPkiKeyType.EC_384]: ['ec', '384'],
  [VaultPkiKeyType.RSA_2048]: ['rsa', '2048'],
  [VaultPkiKeyType.RSA_4096]: ['rsa', '4096'],
};

/**
 * A one-shot Job that sets up Vault's PKI for cert-manager: a root CA mount, an intermediate
 * CA mount signed by it, a role that signs for Harbor's host, a policy limited to the sign
 * endpoint and a Kubernetes auth role for the issuer's ServiceAccount. It then publishes the
 * root CA certificate to a ConfigMap for trust-manager.
 *
 * Every step is idempotent: a CA is generated only when its mount holds none, so running the
 * Job again (a changed script or setting gives the Job a new name) never replaces a CA.
 * Changing a common name, key type or TTL of an existing CA therefore has no effect on it.
 * The CA keys stay inside Vault (`internal`); this suits non-production chains.
 */
export class VaultPkiSetup extends Construct {
  /** Every problem of the props, each under `prefix` + the prop's name. */
  public static check(props: VaultPkiSetupProps, prefix = ''): readonly string[] {
    const problems = new Problems();
    const p = (field: string) => `${prefix}${field}`;

    problems.value(
      p('name'),
      props.name,
      (n) => label(n) ?? (n.length > 50 ? 'is longer than 50 characters' : undefined),
    );
    problems.value(p('server'), props.server, checkVaultServer);
    if (props.caBundle && /^http:/i.test(props.server)) {
      problems.add(
        p('caBundle'),
        `is set while server ${show(props.server)} uses http; use an https address or drop caBundle`,
      );
    }
    if (props.caBundle) {
      problems.value(p('caBundle.name'), props.caBundle.ref.name, objectName);
      problems.value(p('caBundle.key'), props.caBundle.ref.key, dataKey);
    }
    problems.value(p('credentials.name'), props.credentials.name, objectName);
    problems.value(p('credentials.key'), props.credentials.key, dataKey);

    const rootMount = props.rootMount ?? 'pki';
    const intMount = props.intermediateMount ?? 'pki_int';
    problems.value(p('rootMount'), props.rootMount, vaultPath);
    problems.value(p('intermediateMount'), props.intermediateMount, vaultPath);
    if (rootMount === intMount) {
      problems.add(
        p('intermediateMount'),
        `${show(intMount)} is the same as rootMount; give each CA its own mount`,
      );
    }
    problems.value(p('roleName'), props.roleName, vaultName);
    problems.value(p('policyName'), props.policyName, vaultName);
    for (const [field, value] of [
      ['rootCommonName', props.rootCommonName],
      ['intermediateCommonName', props.intermediateCommonName],
      ['organization', props.organization],
    ] as const) {
      problems.value(p(field), value, (v) =>
        v.length >= 1 && v.length <= 64 && !/[\n\r"]/.test(v)
          ? undefined
          : 'must have 1 to 64 characters, without quotes or line breaks',
      );
    }

    for (const field of ['rootTtl', 'intermediateTtl', 'maxTtl', 'ttl'] as const) {
      problems.value(p(field), props[field], lifetime);
    }
    const hours = (value: string | undefined, fallback: string) =>
      hoursOf(value ?? fallback) ?? NaN;
    const root = hours(props.rootTtl, '87600h');
    const int = hours(props.intermediateTtl, '43800h');
    const max = hours(props.maxTtl, '2160h');
    const ttl = hours(props.ttl, '720h');
    if (!(int < root)) {
      problems.add(
        p('intermediateTtl'),
        `${show(props.intermediateTtl ?? '43800h')} is not shorter than rootTtl` +
          ` ${show(props.rootTtl ?? '87600h')}; an intermediate cannot outlive its root`,
      );
    }
    if (!(max <= int)) {
      problems.add(
        p('maxTtl'),
        `${show(props.maxTtl ?? '2160h')} is longer than intermediateTtl` +
          ` ${show(props.intermediateTtl ?? '43800h')}; shorten it, or give the intermediate a longer TTL`,
      );
    }
    if (!(ttl <= max)) {
      problems.add(
        p('ttl'),
        `${show(props.ttl ?? '720h')} is longer than maxTtl ${show(props.maxTtl ?? '2160h')}`,
      );
    }
    problems.value(p('keyType'), props.keyType, (k) =>
      k in KEY_TYPES ? undefined : `is not one of ${Object.keys(KEY_TYPES).join(', ')}`,
    );

    if (props.allowedDomains.length === 0) {
      problems.add(
        p('allowedDomains'),
        '[] is empty; give Harbor\'s host, e.g. ["harbor.example.test"]',
      );
    }
    props.allowedDomains.forEach((domain, i) =>
      problems.value(p(`allowedDomains[${i}]`), domain, dnsName),
    );

    const auth = props.kubernetesAuth;
    const a = (field: string) => p(`kubernetesAuth.${field}`);
    problems.value(a('mountPath'), auth.mountPath, vaultPath);
    problems.value(a('roleName'), auth.roleName, vaultName);
    problems.value(a('serviceAccountName'), auth.serviceAccountName, objectName);
    problems.value(a('serviceAccountNamespace'), auth.serviceAccountNamespace, label);
    problems.value(a('audience'), auth.audience, (v) =>
      /^vault:\/\/[a-z0-9][-a-z0-9.]*(\/[a-z0-9][-a-z0-9.]*)?$/.test(v)
        ? undefined
        : 'does not start with vault://; use "vault://<namespace>/<issuer>" for an Issuer' +
          ' or "vault://<name>" for a ClusterIssuer',
    );
    problems.value(a('tokenTtl'), auth.tokenTtl, lifetime);
    problems.value(a('configure.kubernetesHost'), auth.configure?.kubernetesHost, (v) =>
      /^https:\/\/[^\s/]+$/.test(v) ? undefined : 'is not an https://host[:port] address',
    );

    const cm = props.rootCaConfigMap;
    problems.value(p('rootCaConfigMap.name'), cm.name, objectName);
    problems.value(p('rootCaConfigMap.namespace'), cm.namespace, namespaceCheck);
    problems.value(p('rootCaConfigMap.key'), cm.key, dataKey);

    const images = props.images ?? {};
    problems.value(p('images.vault'), images.vault, pinnedImage);
    problems.value(p('images.publisher'), images.publisher, pinnedImage);
    problems.value(p('images.registry'), images.registry, imageRegistry);
    problems.value(p('images.cli'), images.cli, (v) =>
      v === 'vault' || v === 'bao' ? undefined : 'is not "vault" or "bao"',
    );
    return problems.all;
  }

  public readonly job: kplus.Job;
  public readonly script: kplus.ConfigMap;
  /** The env of the Vault container, as plain values (the token is not among them). */
  public readonly environment: Readonly<Record<string, string>>;

  public constructor(scope: Construct, id: string, props: VaultPkiSetupProps) {
    super(scope, id);

    const problems = new Problems();
    problems.addAll(VaultPkiSetup.check(props));
    problems.throwIfAny('Vault PKI setup');
    const namespace = Chart.of(this).namespace;
    if (!namespace) {
      throw new Error('VaultPkiSetup: its chart needs a namespace; the Job runs there');
    }

    const name = props.name ?? 'vault-pki-setup';
    const images = props.images ?? {};
    const vaultImage = mirrorImage(images.vault ?? VAULT_IMAGE, images.registry);
    const publisherImage =
      images.publisher !== undefined
        ? mirrorImage(images.publisher, images.registry)
        : new HarborImages({ registry: images.registry }).prepare;
    const intMount = props.intermediateMount ?? 'pki_int';
    const roleName = props.roleName ?? 'harbor';
    const policy = props.policyName ?? `cert-manager-${roleName}`;
    const [keyType, keyBits] = KEY_TYPES[props.keyType ?? VaultPkiKeyType.EC_384];
    const auth = props.kubernetesAuth;
    const cm = props.rootCaConfigMap;
    const labels = {
      'app.kubernetes.io/name': 'vault-pki-setup',
      'app.kubernetes.io/instance': name,
      'app.kubernetes.io/managed-by': 'cdk8s-harbor',
    };
    const lines = (options: Record<string, string>) =>
      Object.entries(options)
        .map(([key, value]) => `${key}=${value}`)
        .join('\n');

    this.environment = {
      VAULT_ADDR: props.server.replace(/\/$/, ''),
      VAULT_CLI: images.cli ?? 'vault',
      PKI_ROOT_MOUNT: props.rootMount ?? 'pki',
      PKI_ROOT_CN: props.rootCommonName ?? 'cdk8s-harbor root CA',
      PKI_ROOT_TTL: props.rootTtl ?? '87600h',
      PKI_INT_MOUNT: intMount,
      PKI_INT_CN: props.intermediateCommonName ?? 'cdk8s-harbor intermediate CA',
      PKI_INT_TTL: props.intermediateTtl ?? '43800h',
      PKI_ORGANIZATION: props.organization ?? '',
      PKI_KEY_TYPE: keyType,
      PKI_KEY_BITS: keyBits,
      PKI_ROLE: roleName,
      PKI_ROLE_ARGS: lines(vaultPkiRoleOptions(props)),
      PKI_POLICY: policy,
      PKI_POLICY_HCL: vaultPkiPolicy(intMount, roleName),
      K8S_AUTH_MOUNT: auth.mountPath ?? 'kubernetes',
      K8S_AUTH_ROLE: auth.roleName,
      K8S_AUTH_ROLE_ARGS: lines(vaultKubernetesRoleOptions(auth, policy)),
      K8S_AUTH_CONFIGURE: String(auth.configure !== undefined),
      K8S_AUTH_HOST: auth.configure?.kubernetesHost ?? 'https://kubernetes.default.svc:443',
      ROOT_PEM_FILE: '/work/root.pem',
      ...(props.caBundle ? { VAULT_CACERT: '/etc/vault-ca/ca.crt' } : {}),
    };
    const publisherEnv = {
      ROOT_PEM_FILE: '/work/root.pem',
      CONFIGMAP_NAME: cm.name,
      CONFIGMAP_NAMESPACE: cm.namespace,
      CONFIGMAP_KEY: cm.key ?? 'ca.crt',
      CONFIGMAP_LABELS: JSON.stringify({
        'app.kubernetes.io/managed-by': 'cdk8s-harbor-vault-pki-setup',
      }),
    };

    const setupScript = readAsset('lib/pki/scripts/vault-pki-setup.sh');
    const publishScript = readAsset('lib/pki/scripts/publish-root-ca.py');
    // the Job's spec is immutable: a new name for new content lets `kubectl apply` replace it
    const digest = createHash('sha256')
      .update(
        JSON.stringify({
          setupScript,
          publishScript,
          env: this.environment,
          publisherEnv,
          credentials: props.credentials,
          caBundle: props.caBundle,
          images: [vaultImage, publisherImage],
          labels,
        }),
      )
      .digest('hex')
      .slice(0, 8);

    const account = new kplus.ServiceAccount(this, 'ServiceAccount', {
      metadata: { name, labels },
      automountToken: false,
    });
    const role = new kplus.Role(this, 'Role', {
      metadata: { name, namespace: cm.namespace, labels },
    });
    // only the one ConfigMap; create cannot be limited by name, as the API checks it first
    role.allow(['get', 'update', 'patch'], {
      apiGroup: '',
      resourceType: 'configmaps',
      resourceName: cm.name,
    });
    role.allow(['create'], kplus.ApiResource.CONFIG_MAPS);
    const binding = new kplus.RoleBinding(this, 'RoleBinding', {
      metadata: { name, namespace: cm.namespace, labels },
      role,
    });
    binding.addSubjects(account);

    this.script = new kplus.ConfigMap(this, 'Script', {
      metadata: { name: `${name}-${digest}`, labels },
      data: { 'vault-pki-setup.sh': setupScript, 'publish-root-ca.py': publishScript },
    });
    const scripts = kplus.Volume.fromConfigMap(this, 'ScriptVolume', this.script, {
      name: 'scripts',
    });
    const work = kplus.Volume.fromEmptyDir(this, 'WorkVolume', 'work', {
      sizeLimit: Size.mebibytes(1),
    });
    const vaultMounts: kplus.VolumeMount[] = [
      { volume: scripts, path: '/scripts', readOnly: true },
      { volume: work, path: '/work' },
    ];
    if (props.caBundle) {
      const ref = props.caBundle.ref;
      const items = { [ref.key]: { path: 'ca.crt' } };
      const volume =
        props.caBundle.source === 'secret'
          ? kplus.Volume.fromSecret(
              this,
              'VaultCaVolume',
              kplus.Secret.fromSecretName(this, 'VaultCaSecret', ref.name),
              { name: 'vault-ca', items },
            )
          : kplus.Volume.fromConfigMap(
              this,
              'VaultCaVolume',
              kplus.ConfigMap.fromConfigMapName(this, 'VaultCaConfigMap', ref.name),
              { name: 'vault-ca', items },
            );
      vaultMounts.push({ volume, path: '/etc/vault-ca', readOnly: true });
    }

    const envOf = (env: Record<string, string>) =>
      Object.fromEntries(Object.entries(env).map(([k, v]) => [k, kplus.EnvValue.fromValue(v)]));
    const token = kplus.Secret.fromSecretName(this, 'Credentials', props.credentials.name);
    this.job = new kplus.Job(this, 'Job', {
      metadata: { name: `${name}-${digest}`, labels },
      podMetadata: { labels },
      serviceAccount: account,
      automountServiceAccountToken: true,
      // no deadline: a pod whose token Secret is not there yet waits for it, and a Vault that
      // is still starting gets retries with growing pauses for over an hour
      backoffLimit: 10,
      securityContext: podSecurity(VAULT_UID, VAULT_GID),
      initContainers: [
        {
          name: 'vault-pki-setup',
          image: vaultImage,
          imagePullPolicy: kplus.ImagePullPolicy.IF_NOT_PRESENT,
          command: ['sh', '/scripts/vault-pki-setup.sh'],
          securityContext: containerSecurity(VAULT_UID, VAULT_GID),
          resources: { cpu: { request: kplus.Cpu.millis(10) } },
          envVariables: {
            ...envOf(this.environment),
            VAULT_TOKEN: kplus.EnvValue.fromSecretValue({
              secret: token,
              key: props.credentials.key,
            }),
          },
          volumeMounts: vaultMounts,
        },
      ],
      containers: [
        {
          name: 'publish-root-ca',
          image: publisherImage,
          imagePullPolicy: kplus.ImagePullPolicy.IF_NOT_PRESENT,
          command: ['python3', '/scripts/publish-root-ca.py'],
          securityContext: containerSecurity(HARBOR_UID, HARBOR_UID),
          resources: { cpu: { request: kplus.Cpu.millis(10) } },
          envVariables: envOf(publisherEnv),
          volumeMounts: [
            { volume: scripts, path: '/scripts', readOnly: true },
            { volume: work, path: '/work', readOnly: true },
          ],
        },
      ],
    });
    restrictPod(this.job);
  }
}

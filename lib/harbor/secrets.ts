import { createHash } from 'crypto';
import { Chart, Duration } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import * as certmanager from '../../imports/cert-manager.io';
import { HarborSecretRefs, SecretKeyRef } from './common';
import { HARBOR_UID } from './core';
import { HarborImages } from './images';
import { componentLabels } from '../private/labels';
import { readAsset } from '../private/assets';
import { containerSecurity, podSecurity, restrictPod } from '../private/workload';
import { IssuerKind, toIssuerRef } from '../pki/issuer-ref';

/**
 * Existing Secrets to use instead of generated ones. Each one left out is created in the
 * cluster by the secrets Job on first apply and never rotated afterwards.
 */
export interface ExistingHarborSecrets {
  /** Exactly 16 bytes, no trailing newline. Changing it later loses every stored credential. */
  readonly secretKey?: SecretKeyRef;
  /** Exactly 32 characters. */
  readonly csrfKey?: SecretKeyRef;
  readonly coreSecret?: SecretKeyRef;
  readonly jobserviceSecret?: SecretKeyRef;
  readonly registryHttpSecret?: SecretKeyRef;
  /**
   * Name of a Secret with the keys `REGISTRY_PASSWD` and `REGISTRY_HTPASSWD` (the bcrypt
   * htpasswd line of user `harbor_registry_user` with that password).
   */
  readonly registryCredentials?: string;
  readonly adminPassword?: SecretKeyRef;
  /** A PEM RSA private key; ECDSA keys cannot sign Harbor's tokens. */
  readonly tokenKey?: SecretKeyRef;
  /** Only for the internal database; an external one always names its own. */
  readonly databasePassword?: SecretKeyRef;
}

export interface HarborSecretsProps {
  /** Name of the Harbor instance; generated Secrets are named after it. */
  readonly instance: string;
  readonly images: HarborImages;
  /** @default - every secret is generated in the cluster */
  readonly existing?: ExistingHarborSecrets;
  /**
   * Generate a password for the internal database.
   * @default false
   */
  readonly databasePassword?: boolean;
}

/** One value the secrets Job generates. */
interface GeneratedEntry {
  readonly key: string;
  readonly kind: 'random' | 'htpasswd';
  readonly length?: number;
  readonly user?: string;
  readonly passwordFrom?: string;
}

interface GeneratedSecret {
  readonly name: string;
  readonly entries: GeneratedEntry[];
}

const random = (key: string, length: number): GeneratedEntry => ({ key, kind: 'random', length });

/**
 * Harbor's shared secrets, by reference. Values never pass through synthesis: what the user
 * does not supply is created inside the cluster by a one-shot Job that creates only the
 * Secrets that are missing, so re-applying or re-synthesizing never rotates a value. The
 * token-signing key is an RSA key from a cert-manager self-signed Certificate.
 */
export class HarborSecrets extends Construct {
  public readonly refs: HarborSecretRefs;
  /** Undefined when the internal database is not used and none was given. */
  public readonly databasePassword?: SecretKeyRef;
  /** Undefined when every secret was supplied. */
  public readonly job?: kplus.Job;
  /** Names of the Secrets the Job creates. */
  public readonly generated: readonly string[];

  public constructor(scope: Construct, id: string, props: HarborSecretsProps) {
    super(scope, id);

    const existing = props.existing ?? {};
    const i = props.instance;
    const generated: GeneratedSecret[] = [];
    const ref = (given: SecretKeyRef | undefined, name: string, entries: GeneratedEntry[]) => {
      if (given) return given;
      generated.push({ name, entries });
      return { name, key: entries[0].key };
    };

    const registryCredentials = existing.registryCredentials ?? `${i}-registry-credentials`;
    if (!existing.registryCredentials) {
      generated.push({
        name: registryCredentials,
        entries: [
          random('REGISTRY_PASSWD', 32),
          {
            key: 'REGISTRY_HTPASSWD',
            kind: 'htpasswd',
            user: 'harbor_registry_user',
            passwordFrom: 'REGISTRY_PASSWD',
          },
        ],
      });
    }

    this.refs = {
      secretKey: ref(existing.secretKey, `${i}-secret-key`, [random('secretKey', 16)]),
      csrfKey: ref(existing.csrfKey, `${i}-csrf-key`, [random('CSRF_KEY', 32)]),
      coreSecret: ref(existing.coreSecret, `${i}-core-secret`, [random('secret', 32)]),
      jobserviceSecret: ref(existing.jobserviceSecret, `${i}-jobservice-secret`, [
        random('secret', 32),
      ]),
      registryHttpSecret: ref(existing.registryHttpSecret, `${i}-registry-http-secret`, [
        random('secret', 32),
      ]),
      registryPassword: { name: registryCredentials, key: 'REGISTRY_PASSWD' },
      registryHtpasswd: { name: registryCredentials, key: 'REGISTRY_HTPASSWD' },
      adminPassword: ref(existing.adminPassword, `${i}-admin-password`, [
        random('HARBOR_ADMIN_PASSWORD', 24),
      ]),
      tokenKey: existing.tokenKey ?? this.tokenKeyCertificate(i, props.images.version),
    };
    if (existing.databasePassword || props.databasePassword) {
      this.databasePassword = ref(existing.databasePassword, `${i}-database-password`, [
        random('password', 32),
      ]);
    }

    this.generated = generated.map((secret) => secret.name);
    if (generated.length > 0) this.job = this.createJob(props, generated);
  }

  /** A self-signed RSA certificate whose key core signs registry tokens with. */
  private tokenKeyCertificate(instance: string, version: string): SecretKeyRef {
    const name = `${instance}-token-signing`;
    const labels = componentLabels(instance, 'core', version);
    const issuer = new certmanager.Issuer(this, 'TokenIssuer', {
      metadata: { name: `${instance}-token-issuer`, labels },
      spec: { selfSigned: {} },
    });
    new certmanager.Certificate(this, 'TokenKey', {
      metadata: { name, labels },
      spec: {
        secretName: name,
        commonName: name,
        subject: { organizations: ['Harbor'] },
        duration: '87600h',
        renewBefore: '720h',
        privateKey: {
          algorithm: certmanager.CertificateSpecPrivateKeyAlgorithm.RSA,
          size: 4096,
          // core reads the key once at start; a new key at every renewal gains nothing
          rotationPolicy: certmanager.CertificateSpecPrivateKeyRotationPolicy.NEVER,
        },
        usages: [certmanager.CertificateSpecUsages.DIGITAL_SIGNATURE],
        issuerRef: toIssuerRef({ name: issuer.name, kind: IssuerKind.ISSUER }),
      },
    });
    return { name, key: 'tls.key' };
  }

  private createJob(props: HarborSecretsProps, secrets: GeneratedSecret[]): kplus.Job {
    const namespace = Chart.of(this).namespace;
    if (!namespace) {
      throw new Error('HarborSecrets: its chart needs a namespace; the Job creates Secrets there');
    }

    const labels = componentLabels(props.instance, 'secrets', props.images.version);
    // the created Secrets carry no instance label: a GitOps tool that tracks objects by that
    // label would prune them as strays and so rotate every value
    const secretLabels = {
      'app.kubernetes.io/part-of': 'harbor',
      'app.kubernetes.io/managed-by': 'cdk8s-harbor-secrets-job',
    };
    const script = readAsset('lib/harbor/scripts/ensure-secrets.py');
    const spec = JSON.stringify({ namespace, labels: secretLabels, secrets });
    // the Job's spec is immutable: a new name for new content lets `kubectl apply` replace it
    const digest = createHash('sha256')
      .update(JSON.stringify({ script, spec, image: props.images.prepare, labels }))
      .digest('hex')
      .slice(0, 8);
    const name = `${props.instance}-secrets`;

    const account = new kplus.ServiceAccount(this, 'ServiceAccount', {
      metadata: { name, labels },
      automountToken: false,
    });
    const role = new kplus.Role(this, 'Role', { metadata: { name, labels } });
    // create only: the Job can neither read nor change a Secret that already exists
    role.allow(['create'], kplus.ApiResource.SECRETS);
    const binding = new kplus.RoleBinding(this, 'RoleBinding', {
      metadata: { name, labels },
      role,
    });
    binding.addSubjects(account);

    const config = new kplus.ConfigMap(this, 'Script', {
      metadata: { name: `${name}-${digest}`, labels },
      data: { 'ensure-secrets.py': script },
    });
    const job = new kplus.Job(this, 'Job', {
      metadata: { name: `${name}-${digest}`, labels },
      podMetadata: { labels },
      serviceAccount: account,
      automountServiceAccountToken: true,
      backoffLimit: 4,
      activeDeadline: Duration.minutes(15),
      securityContext: podSecurity(HARBOR_UID, HARBOR_UID),
      containers: [
        {
          name: 'ensure-secrets',
          image: props.images.prepare,
          imagePullPolicy: kplus.ImagePullPolicy.IF_NOT_PRESENT,
          command: ['python3', '/scripts/ensure-secrets.py'],
          securityContext: containerSecurity(HARBOR_UID, HARBOR_UID),
          resources: { cpu: { request: kplus.Cpu.millis(10) } },
          envVariables: { SECRETS_SPEC: kplus.EnvValue.fromValue(spec) },
          volumeMounts: [
            {
              volume: kplus.Volume.fromConfigMap(this, 'ScriptVolume', config, { name: 'script' }),
              path: '/scripts',
              readOnly: true,
            },
          ],
        },
      ],
    });
    restrictPod(job);
    return job;
  }
}

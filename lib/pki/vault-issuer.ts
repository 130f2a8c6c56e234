import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';
import * as k8s from '../../imports/k8s';
import {
  CertManagerInstall,
  IssuerKind,
  IssuerRef,
  certManagerInstall,
  issuerNamespace,
  newIssuer,
} from './issuer-ref';
import { checkVaultServer } from './vault-pki-setup';
import { SecretKeyRef } from '../harbor/common';
import { dataKey, duration, objectName } from '../private/checks';
import { Problems, show } from '../private/validation';

export interface VaultIssuerProps {
  /** Name of the issuer; the audience of its Vault login is derived from it. */
  readonly name: string;

  /**
   * An `Issuer` serves Certificates of its own namespace; a `ClusterIssuer` every namespace,
   * and keeps its ServiceAccount in cert-manager's cluster resource namespace.
   * @default IssuerKind.ISSUER
   */
  readonly kind?: IssuerKind;

  /**
   * Vault's address, `http(s)://host[:port]`, with no path.
   * @see https://cert-manager.io/docs/configuration/vault/
   */
  readonly server: string;

  /**
   * The CA that signs Vault's TLS listener, when it is private: a Secret key in the issuer's
   * namespace (the cluster resource namespace for a ClusterIssuer). Only for `https`.
   * @default - the CAs of cert-manager's image
   */
  readonly caBundle?: SecretKeyRef;

  /**
   * The PKI mount that signs leaf certificates, usually the intermediate.
   * @default 'pki_int'
   */
  readonly mount?: string;

  /**
   * The PKI role cert-manager signs with. The path is always `<mount>/sign/<role>`: the issue
   * endpoint makes Vault generate a key of its own, which never matches cert-manager's.
   * @default 'harbor'
   */
  readonly role?: string;

  /**
   * The role's `max_ttl`: Certificates that ask for more are refused at synthesis, because Vault
   * would cut their lifetime silently.
   * @default '2160h'
   */
  readonly maxDuration?: string;

  /**
   * Vault's Kubernetes auth method: where it is mounted and the role cert-manager logs in with.
   * @default - mount 'kubernetes', role `<name>`
   */
  readonly auth?: VaultKubernetesAuth;

  /**
   * Name of the ServiceAccount whose short-lived tokens cert-manager presents to Vault.
   * @default `<name>-issuer`
   */
  readonly serviceAccountName?: string;

  /** @default - cert-manager's Helm chart defaults */
  readonly certManager?: CertManagerInstall;
}

/** Where Vault's Kubernetes auth method is mounted, and the role to log in with. */
export interface VaultKubernetesAuth {
  /**
   * The auth method's mount path, without `/v1/auth/`.
   * @default 'kubernetes'
   */
  readonly mountPath?: string;
  /** @default - the issuer's name */
  readonly role?: string;
}

/** What the Vault side must be told for cert-manager's login to succeed. */
export interface VaultLogin {
  /** The Kubernetes auth mount, without `/v1/auth/`. */
  readonly mountPath: string;
  readonly role: string;
  readonly serviceAccountName: string;
  readonly serviceAccountNamespace: string;
  /** The audience cert-manager asks the token for; Vault's role must list it. */
  readonly audience: string;
}

const VAULT_PATH_SEGMENT = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

/**
 * A cert-manager issuer that has Vault's PKI sign certificates. cert-manager logs in with a
 * short-lived token of a dedicated ServiceAccount, which this construct creates together with
 * the Role that lets cert-manager's controller request it: cert-manager's chart grants no such
 * right since v1.21.
 */
export class VaultIssuer extends Construct {
  /** Every problem of the props, each under `prefix` + the prop's name. */
  public static check(props: VaultIssuerProps, prefix = ''): readonly string[] {
    const problems = new Problems();
    problems.value(`${prefix}name`, props.name, objectName);
    problems.value(`${prefix}server`, props.server, checkVaultServer);
    problems.value(`${prefix}maxDuration`, props.maxDuration, duration(1, '1h'));
    problems.value(`${prefix}serviceAccountName`, props.serviceAccountName, objectName);
    if (props.caBundle) {
      problems.value(`${prefix}caBundle.name`, props.caBundle.name, objectName);
      problems.value(`${prefix}caBundle.key`, props.caBundle.key, dataKey);
      problems.check(
        !props.server.startsWith('http://'),
        `${prefix}caBundle`,
        `is only used over https, and ${prefix}server ${show(props.server)} is http; remove` +
          ' it or serve Vault over https',
      );
    }
    problems.value(`${prefix}role`, props.role, vaultSegment('role'));
    problems.value(`${prefix}auth.role`, props.auth?.role, vaultSegment('role'));
    problems.value(`${prefix}auth.mountPath`, props.auth?.mountPath, vaultMount);
    problems.value(`${prefix}mount`, props.mount, (mount) => {
      if (/(^|\/)(sign|issue)(\/|$)/.test(mount)) {
        return (
          'names an endpoint, not a mount; give the PKI mount alone (such as "pki_int"): the' +
          ' path is always <mount>/sign/<role>, the sign endpoint cert-manager needs'
        );
      }
      return vaultMount(mount);
    });
    return problems.all;
  }

  /** How Certificates name this issuer, with the longest lifetime it grants. */
  public readonly issuer: IssuerRef;
  /** What Vault's Kubernetes auth role must accept. */
  public readonly login: VaultLogin;
  /** The `<mount>/sign/<role>` path cert-manager posts certificate requests to. */
  public readonly path: string;
  public readonly resource: ApiObject;

  public constructor(scope: Construct, id: string, props: VaultIssuerProps) {
    super(scope, id);

    const problems = new Problems();
    problems.addAll(VaultIssuer.check(props));
    const kind = props.kind ?? IssuerKind.ISSUER;
    const install = certManagerInstall(props.certManager);
    const chartNamespace = issuerNamespace(problems, this, kind);
    problems.throwIfAny(`Vault issuer ${show(props.name)}`);

    // a ClusterIssuer's ServiceAccount must be where cert-manager resolves cluster resources
    const namespace =
      kind === IssuerKind.ISSUER ? chartNamespace! : install.clusterResourceNamespace;
    const serviceAccountName = props.serviceAccountName ?? `${props.name}-issuer`;
    const mountPath = props.auth?.mountPath ?? 'kubernetes';
    const maxDuration = props.maxDuration ?? '2160h';
    this.path = `${props.mount ?? 'pki_int'}/sign/${props.role ?? 'harbor'}`;
    this.login = {
      mountPath,
      role: props.auth?.role ?? props.name,
      serviceAccountName,
      serviceAccountNamespace: namespace,
      audience:
        kind === IssuerKind.ISSUER ? `vault://${namespace}/${props.name}` : `vault://${props.name}`,
    };

    const serviceAccount = new k8s.KubeServiceAccount(this, 'ServiceAccount', {
      metadata: { name: serviceAccountName, namespace },
      // the token is requested for cert-manager alone; no pod runs as this account
      automountServiceAccountToken: false,
    });
    const role = new k8s.KubeRole(this, 'TokenRole', {
      metadata: { name: `${serviceAccountName}-token`, namespace },
      rules: [
        {
          apiGroups: [''],
          resources: ['serviceaccounts/token'],
          resourceNames: [serviceAccountName],
          verbs: ['create'],
        },
      ],
    });
    new k8s.KubeRoleBinding(this, 'TokenRoleBinding', {
      metadata: { name: `${serviceAccountName}-token`, namespace },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: role.name },
      subjects: [
        { kind: 'ServiceAccount', name: install.serviceAccountName, namespace: install.namespace },
      ],
    });

    this.resource = newIssuer(this, 'Resource', kind, props.name, {
      vault: {
        server: props.server,
        path: this.path,
        ...(props.caBundle
          ? { caBundleSecretRef: { name: props.caBundle.name, key: props.caBundle.key } }
          : {}),
        auth: {
          kubernetes: {
            mountPath: `/v1/auth/${mountPath}`,
            role: this.login.role,
            serviceAccountRef: { name: serviceAccount.name },
          },
        },
      },
    });
    this.issuer = { name: props.name, kind, maxDuration };
  }
}

function vaultSegment(what: string) {
  return (value: string) =>
    VAULT_PATH_SEGMENT.test(value)
      ? undefined
      : `is not a Vault ${what} name; use letters, digits, "_", "-" and inner dots`;
}

/** A Vault mount path: segments of letters, digits, `_` and `-`, separated by `/`. */
function vaultMount(value: string): string | undefined {
  return value.split('/').every((segment) => VAULT_PATH_SEGMENT.test(segment))
    ? undefined
    : 'is not a Vault mount path; use segments of letters, digits, "_" and "-" separated by "/"';
}

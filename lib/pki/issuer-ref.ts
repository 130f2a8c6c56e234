import { ApiObject, Chart } from 'cdk8s';
import { Construct } from 'constructs';
import * as certmanager from '../../imports/cert-manager.io';
import { Problems } from '../private/validation';
import { clusterScoped } from '../private/workload';

/** The two kinds of cert-manager issuer a Certificate can name. */
export enum IssuerKind {
  ISSUER = 'Issuer',
  CLUSTER_ISSUER = 'ClusterIssuer',
}

/**
 * A cert-manager issuer, by name. An `Issuer` serves only Certificates of its own namespace; a
 * `ClusterIssuer` serves every namespace.
 */
export interface IssuerRef {
  readonly name: string;
  /** @default IssuerKind.ISSUER */
  readonly kind?: IssuerKind;

  /**
   * The longest lifetime the issuer grants, such as a Vault role's `max_ttl`. Certificates that
   * ask for more are refused at synthesis.
   * @default - no limit is known
   */
  readonly maxDuration?: string;
}

/** The `issuerRef` of a cert-manager Certificate. */
export function toIssuerRef(ref: IssuerRef): { name: string; kind: string; group: string } {
  return { name: ref.name, kind: ref.kind ?? IssuerKind.ISSUER, group: 'cert-manager.io' };
}

/**
 * An Issuer or a ClusterIssuer of that name and spec. Both kinds take the same spec; only
 * where they look for the Secrets and ServiceAccounts they name differs.
 */
export function newIssuer(
  scope: Construct,
  id: string,
  kind: IssuerKind,
  name: string,
  spec: certmanager.IssuerSpec,
): ApiObject {
  if (kind === IssuerKind.ISSUER) {
    return new certmanager.Issuer(scope, id, { metadata: { name }, spec });
  }
  const issuer = new certmanager.ClusterIssuer(scope, id, {
    metadata: { name },
    spec: spec as certmanager.ClusterIssuerSpec,
  });
  clusterScoped(issuer);
  return issuer;
}

/** Where cert-manager runs, which ClusterIssuers and Vault's token requests depend on. */
export interface CertManagerInstall {
  /**
   * Namespace of cert-manager's controller.
   * @default 'cert-manager'
   */
  readonly namespace?: string;

  /**
   * ServiceAccount of cert-manager's controller.
   * @default 'cert-manager'
   */
  readonly serviceAccountName?: string;

  /**
   * Where ClusterIssuers read their Secrets and ServiceAccounts (the controller's
   * `--cluster-resource-namespace`).
   * @default - the controller's namespace
   */
  readonly clusterResourceNamespace?: string;
}

/** The install with its defaults filled in. */
export function certManagerInstall(install: CertManagerInstall = {}): Required<CertManagerInstall> {
  const namespace = install.namespace ?? 'cert-manager';
  return {
    namespace,
    serviceAccountName: install.serviceAccountName ?? 'cert-manager',
    clusterResourceNamespace: install.clusterResourceNamespace ?? namespace,
  };
}

/**
 * The namespace of the chart an issuer is built in, recording a problem when a namespaced
 * Issuer has none to live in.
 */
export function issuerNamespace(
  problems: Problems,
  scope: Construct,
  kind: IssuerKind,
): string | undefined {
  const namespace = Chart.of(scope).namespace;
  problems.check(
    kind === IssuerKind.CLUSTER_ISSUER || namespace !== undefined,
    'namespace',
    'an Issuer needs the namespace of its chart; give the chart one, or use a ClusterIssuer',
  );
  return namespace;
}

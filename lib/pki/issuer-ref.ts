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
}

/** The `issuerRef` of a cert-manager Certificate. */
export function toIssuerRef(ref: IssuerRef): { name: string; kind: string; group: string } {
  return { name: ref.name, kind: ref.kind ?? IssuerKind.ISSUER, group: 'cert-manager.io' };
}

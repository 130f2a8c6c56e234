import { Construct } from 'constructs';
import * as certmanager from '../../imports/cert-manager.io';
import {
  CertManagerInstall,
  IssuerKind,
  IssuerRef,
  certManagerInstall,
  newIssuer,
  toIssuerRef,
} from './issuer-ref';
import { duration as lifetime, objectName } from '../private/checks';
import { Problems } from '../private/validation';
import { SecretKeyRef } from '../harbor/common';

export interface SelfSignedCaProps {
  /** Prefix of the issuers' and the CA Secret's names. */
  readonly name: string;

  /** @default `${name} root CA` */
  readonly commonName?: string;

  /**
   * Organization in the CA's subject; an empty issuer name breaks some TLS clients.
   * @default 'cdk8s-harbor'
   */
  readonly organization?: string;

  /**
   * Lifetime of the CA certificate. cert-manager never rotates a CA on its own.
   * @default '87600h'
   */
  readonly duration?: string;

  /**
   * `ClusterIssuer` puts the CA's key pair in cert-manager's cluster resource namespace, where
   * trust-manager can publish its certificate and every namespace's Certificates can use it.
   * @default IssuerKind.ISSUER
   */
  readonly kind?: IssuerKind;

  /** @default - cert-manager's Helm chart defaults */
  readonly certManager?: CertManagerInstall;
}

/** How Certificates and clients refer to a CA. */
export interface CaRefs {
  /** The issuer that signs leaf certificates. */
  readonly issuer: IssuerRef;
  /** The CA certificate in PEM, for clients to trust. */
  readonly caBundle: SecretKeyRef;
}

/**
 * A private certificate authority made by cert-manager alone: a self-signed bootstrap issuer
 * signs a CA certificate, and a CA issuer signs leaf certificates with it. Meant for
 * non-production clusters; every client must be told to trust `caBundle`.
 */
export class SelfSignedCa extends Construct implements CaRefs {
  /** The references a CA of that name will have, known before it is built. */
  public static refsOf(name: string, kind = IssuerKind.ISSUER): CaRefs {
    return {
      issuer: { name, kind },
      caBundle: { name: `${name}-root`, key: 'ca.crt' },
    };
  }

  /** Every problem of the props, each under `prefix` + the prop's name. */
  public static check(props: SelfSignedCaProps, prefix = ''): readonly string[] {
    const problems = new Problems();
    problems.value(`${prefix}name`, props.name, objectName);
    problems.value(`${prefix}duration`, props.duration, lifetime(1, '1h'));
    problems.value(`${prefix}commonName`, props.commonName, (cn) =>
      cn.length >= 1 && cn.length <= 64 ? undefined : 'must have 1 to 64 characters',
    );
    return problems.all;
  }

  /** The issuer that signs leaf certificates. */
  public readonly issuer: IssuerRef;
  /** The CA certificate in PEM, for clients to trust. */
  public readonly caBundle: SecretKeyRef;
  public readonly certificate: certmanager.Certificate;

  public constructor(scope: Construct, id: string, props: SelfSignedCaProps) {
    super(scope, id);

    const problems = new Problems();
    problems.addAll(SelfSignedCa.check(props));
    problems.throwIfAny('self-signed CA');
    const duration = props.duration ?? '87600h';
    const kind = props.kind ?? IssuerKind.ISSUER;
    // a ClusterIssuer finds its CA Secret only in cert-manager's cluster resource namespace
    const namespace =
      kind === IssuerKind.CLUSTER_ISSUER
        ? certManagerInstall(props.certManager).clusterResourceNamespace
        : undefined;

    const bootstrap = new certmanager.Issuer(this, 'Bootstrap', {
      metadata: { name: `${props.name}-bootstrap`, namespace },
      spec: { selfSigned: {} },
    });
    const secretName = SelfSignedCa.refsOf(props.name).caBundle.name;
    this.certificate = new certmanager.Certificate(this, 'Certificate', {
      metadata: { name: secretName, namespace },
      spec: {
        isCa: true,
        commonName: props.commonName ?? `${props.name} root CA`,
        subject: { organizations: [props.organization ?? 'cdk8s-harbor'] },
        secretName,
        duration,
        privateKey: {
          algorithm: certmanager.CertificateSpecPrivateKeyAlgorithm.ECDSA,
          size: 256,
        },
        issuerRef: toIssuerRef({ name: bootstrap.name, kind: IssuerKind.ISSUER }),
      },
    });
    const issuer = newIssuer(this, 'Resource', kind, props.name, { ca: { secretName } });

    const refs = SelfSignedCa.refsOf(issuer.name, kind);
    this.issuer = refs.issuer;
    this.caBundle = refs.caBundle;
  }
}

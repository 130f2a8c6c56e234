import { Construct } from 'constructs';
import * as certmanager from '../../imports/cert-manager.io';
import { IssuerKind, IssuerRef, toIssuerRef } from './issuer-ref';
import { parseHours } from '../private/durations';
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
}

/**
 * A private certificate authority made by cert-manager alone: a self-signed bootstrap issuer
 * signs a CA certificate, and a CA issuer signs leaf certificates with it. Meant for
 * non-production clusters; every client must be told to trust `caBundle`.
 */
export class SelfSignedCa extends Construct {
  /** The issuer that signs leaf certificates. */
  public readonly issuer: IssuerRef;
  /** The CA certificate in PEM, for clients to trust. */
  public readonly caBundle: SecretKeyRef;
  public readonly certificate: certmanager.Certificate;

  public constructor(scope: Construct, id: string, props: SelfSignedCaProps) {
    super(scope, id);

    const duration = props.duration ?? '87600h';
    parseHours(duration, 'ca.duration');

    const bootstrap = new certmanager.Issuer(this, 'Bootstrap', {
      metadata: { name: `${props.name}-bootstrap` },
      spec: { selfSigned: {} },
    });
    const secretName = `${props.name}-root`;
    this.certificate = new certmanager.Certificate(this, 'Certificate', {
      metadata: { name: secretName },
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
    const issuer = new certmanager.Issuer(this, 'Resource', {
      metadata: { name: props.name },
      spec: { ca: { secretName } },
    });

    this.issuer = { name: issuer.name, kind: IssuerKind.ISSUER };
    this.caBundle = { name: secretName, key: 'ca.crt' };
  }
}

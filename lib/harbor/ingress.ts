import { ApiObject, Chart } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import { ExposureType, HarborExposure } from './exposure';
import { TlsComponent, internalTlsSecretName } from './internal-tls';
import * as certmanager from '../../imports/cert-manager.io';
import { IssuerRef, toIssuerRef } from '../pki/issuer-ref';
import { duration, hoursOf, objectName } from '../private/checks';
import { componentLabels } from '../private/labels';
import { Problems, show } from '../private/validation';

export interface CertificateOptions {
  /**
   * Lifetime requested from the issuer, in hours (`2160h`).
   * @default '2160h'
   */
  readonly duration?: string;

  /**
   * How long before expiry cert-manager renews; shorter than `duration`.
   * @default - a third of `duration`, at most '720h'
   */
  readonly renewBefore?: string;
}

/** Where the certificate Harbor's ingress serves comes from. */
export class HarborTls {
  /** A cert-manager Certificate for the host, from an issuer that exists or that we create. */
  public static fromIssuer(issuer: IssuerRef, options: CertificateOptions = {}): HarborTls {
    return new HarborTls(issuer, options, undefined);
  }

  /**
   * A `kubernetes.io/tls` Secret that already exists, such as a commercial certificate
   * delivered by Sealed Secrets or External Secrets. Nobody renews it for you.
   */
  public static fromSecret(secretName: string): HarborTls {
    return new HarborTls(undefined, {}, secretName);
  }

  private constructor(
    public readonly issuer: IssuerRef | undefined,
    public readonly certificate: CertificateOptions,
    public readonly secretName: string | undefined,
  ) {}
}

export interface HarborIngressProps {
  readonly instance: string;
  readonly version: string;
  /** The host name users reach Harbor by. */
  readonly host: string;
  readonly tls: HarborTls;
  readonly coreService: kplus.Service;
  readonly portalService: kplus.Service;

  /**
   * The controller the Ingress is for: ingress-nginx or Traefik. A Gateway API exposure is
   * `HarborHttpRoute`'s.
   * @default - HarborExposure.ingressNginx({ className })
   */
  readonly exposure?: HarborExposure;

  /**
   * The IngressClass of an ingress-nginx controller, when `exposure` is not given.
   * @default 'nginx'
   */
  readonly className?: string;

  /**
   * Core and the portal serve HTTPS on Service port 443 (`HarborInternalTls`). ingress-nginx
   * then speaks HTTPS to them without checking their certificates, as it does by default;
   * Traefik checks them against the internal CA through a ServersTransport per Service.
   * @default false
   */
  readonly internalTls?: boolean;
}

const DEFAULT_DURATION = '2160h';
const DEFAULT_RENEW_BEFORE = '720h';

/**
 * The renewal window cert-manager is asked for: the one given, or a third of the lifetime up to
 * 720h, so a short certificate still survives an outage of its issuer of a third of its life.
 */
export function renewBeforeOf(options: CertificateOptions): string {
  if (options.renewBefore !== undefined) return options.renewBefore;
  const hours = hoursOf(options.duration ?? DEFAULT_DURATION);
  if (hours === undefined || hours / 3 >= hoursOf(DEFAULT_RENEW_BEFORE)!)
    return DEFAULT_RENEW_BEFORE;
  return `${Math.floor((hours * 60) / 3)}m`;
}

/** Records what is wrong with a certificate's lifetime, under `field`. */
export function checkCertificate(problems: Problems, field: string, tls: HarborTls): void {
  if (!tls.issuer) {
    problems.value(`${field}.secretName`, tls.secretName ?? '', objectName);
    return;
  }
  problems.value(`${field}.name`, tls.issuer.name, objectName);
  const most = tls.issuer.maxDuration;
  // Vault cuts the lifetime to its role's max_ttl without a word, and a renewal window
  // sized for the asked lifetime then renews every certificate as soon as it is issued
  const whose =
    `issuer ${show(tls.issuer.name)} grants (${show(most)}, such as a Vault role's max_ttl);` +
    ` ask for at most ${most} or raise the limit (tls.maxDuration)`;
  checkLifetime(problems, field, {
    duration: tls.certificate.duration ?? DEFAULT_DURATION,
    renewBefore: renewBeforeOf(tls.certificate),
    renewed: 'the certificate as soon as it is issued',
    limit: most === undefined ? undefined : { most, whose },
  });
}

/** A certificate lifetime to check, with what cert-manager renews and the issuer's limit. */
export interface Lifetime {
  readonly duration: string;
  readonly renewBefore: string;
  /** What cert-manager would renew too early, as "the certificate as soon as it is issued". */
  readonly renewed: string;
  /**
   * The longest lifetime the issuer grants; `whose` ends the sentence "... exceeds the longest
   * lifetime": whose limit it is and what to do.
   */
  readonly limit?: { readonly most: string; readonly whose: string };
}

/**
 * Records what is wrong with a lifetime under `field`: both durations must be ones cert-manager
 * accepts, the renewal window shorter than the lifetime, the lifetime within the issuer's limit.
 */
export function checkLifetime(problems: Problems, field: string, lifetime: Lifetime): void {
  const { duration: asked, renewBefore, limit } = lifetime;
  problems.value(`${field}.duration`, asked, duration(1, '1h'));
  problems.value(`${field}.renewBefore`, renewBefore, duration(5 / 60, '5m'));

  const hours = hoursOf(asked);
  const renewHours = hoursOf(renewBefore);
  if (hours !== undefined && renewHours !== undefined && renewHours >= hours) {
    problems.add(
      `${field}.renewBefore`,
      `${show(renewBefore)} is not shorter than ${field}.duration ${show(asked)};` +
        ` cert-manager would renew ${lifetime.renewed}`,
    );
  }
  const maxHours = limit === undefined ? undefined : hoursOf(limit.most);
  if (limit && hours !== undefined && maxHours !== undefined && hours > maxHours) {
    problems.add(`${field}.duration`, `${show(asked)} exceeds the longest lifetime ${limit.whose}`);
  }
}

/** The paths core serves; everything else is the portal's. */
export const CORE_PATHS = ['/api/', '/service/', '/v2/', '/c/'];

/**
 * ingress-nginx settings for a registry: no body size limit (layers are large), no request
 * buffering (uploads stream through), and long timeouts for slow pushes and pulls.
 */
export const INGRESS_NGINX_ANNOTATIONS: Readonly<Record<string, string>> = {
  'nginx.ingress.kubernetes.io/proxy-body-size': '0',
  'nginx.ingress.kubernetes.io/proxy-request-buffering': 'off',
  'nginx.ingress.kubernetes.io/proxy-buffering': 'off',
  'nginx.ingress.kubernetes.io/proxy-read-timeout': '900',
  'nginx.ingress.kubernetes.io/proxy-send-timeout': '900',
  'nginx.ingress.kubernetes.io/ssl-redirect': 'true',
};

/**
 * Traefik settings: the router on the TLS entry points only. Traefik has no body size limit and
 * streams requests unless a buffering middleware is added; its read timeout is the entry
 * point's, outside any route's reach (see `HarborExposure.traefik`).
 */
export function traefikAnnotations(exposure: HarborExposure): Record<string, string> {
  return {
    'traefik.ingress.kubernetes.io/router.entrypoints': exposure.entryPoints.join(','),
    'traefik.ingress.kubernetes.io/router.tls': 'true',
  };
}

/**
 * Harbor's single public entry point through an Ingress controller (ingress-nginx or Traefik):
 * an Ingress with TLS for one host.
 */
export class HarborIngress extends Construct {
  public readonly ingress: kplus.Ingress;
  /** The Secret that holds the served certificate. */
  public readonly tlsSecretName: string;
  public readonly certificate?: certmanager.Certificate;

  public constructor(scope: Construct, id: string, props: HarborIngressProps) {
    super(scope, id);

    const exposure = props.exposure ?? HarborExposure.ingressNginx({ className: props.className });
    const problems = new Problems();
    problems.check(
      exposure.type !== ExposureType.GATEWAY_API,
      'exposure',
      `${show(exposure.type)} is served by an HTTPRoute (HarborHttpRoute), not by an Ingress`,
    );
    problems.throwIfAny('ingress');

    const labels = componentLabels(props.instance, 'ingress', props.version);
    const name = props.instance;
    const traefik = exposure.type === ExposureType.TRAEFIK;
    const annotations = traefik
      ? traefikAnnotations(exposure)
      : {
          ...INGRESS_NGINX_ANNOTATIONS,
          ...(props.internalTls ? { 'nginx.ingress.kubernetes.io/backend-protocol': 'HTTPS' } : {}),
        };
    const port = props.internalTls ? 443 : 80;
    if (props.internalTls && traefik) {
      traefikBackendTls(this, props.instance, labels, props.coreService, 'core');
      traefikBackendTls(this, props.instance, labels, props.portalService, 'portal');
    }

    const served = servedCertificate(this, props);
    this.tlsSecretName = served.secretName;
    this.certificate = served.certificate;

    this.ingress = new kplus.Ingress(this, 'Resource', {
      metadata: { name, labels, annotations },
      className: exposure.className,
      tls: [
        {
          hosts: [props.host],
          secret: kplus.Secret.fromSecretName(this, 'TlsSecret', this.tlsSecretName),
        },
      ],
    });
    const core = kplus.IngressBackend.fromService(props.coreService, { port });
    for (const path of CORE_PATHS) {
      this.ingress.addHostRule(props.host, path, core, kplus.HttpIngressPathType.PREFIX);
    }
    this.ingress.addHostRule(
      props.host,
      '/',
      kplus.IngressBackend.fromService(props.portalService, { port }),
      kplus.HttpIngressPathType.PREFIX,
    );
  }
}

/**
 * Makes Traefik reach a Service over HTTPS and verify it: the scheme on the Service, and a
 * ServersTransport that trusts the internal CA and checks the Service name, since Traefik dials
 * pod addresses that no certificate carries. Needs Traefik's Kubernetes CRD provider as well.
 */
function traefikBackendTls(
  scope: Construct,
  instance: string,
  labels: Record<string, string>,
  service: kplus.Service,
  component: TlsComponent,
): void {
  const namespace = Chart.of(scope).namespace;
  const problems = new Problems();
  problems.check(
    namespace !== undefined,
    'exposure',
    'traefik with internal TLS names its ServersTransports by namespace; give the chart one',
  );
  problems.throwIfAny('ingress');

  const transport = new ApiObject(scope, `ServersTransport-${component}`, {
    apiVersion: 'traefik.io/v1alpha1',
    kind: 'ServersTransport',
    metadata: { name: service.name, labels },
    spec: {
      serverName: service.name,
      // the component's own Secret: its ca.crt is the CA that signed the certificate
      rootCAs: [{ secret: internalTlsSecretName(instance, component) }],
    },
  });
  const metadata = ApiObject.of(service).metadata;
  metadata.addAnnotation('traefik.ingress.kubernetes.io/service.serversscheme', 'https');
  metadata.addAnnotation(
    'traefik.ingress.kubernetes.io/service.serverstransport',
    `${namespace}-${transport.name}@kubernetescrd`,
  );
}

/** What the certificate Harbor serves for its host needs to be made. */
export interface ServedCertificateProps {
  readonly instance: string;
  readonly version: string;
  readonly host: string;
  readonly tls: HarborTls;
}

/**
 * The Secret Harbor's host is served with: a Certificate's, requested from the issuer as
 * `Certificate` under `scope` in `namespace` (the chart's when undefined), or the Secret given.
 */
export function servedCertificate(
  scope: Construct,
  props: ServedCertificateProps,
  namespace?: string,
): { secretName: string; certificate?: certmanager.Certificate } {
  if (!props.tls.issuer) return { secretName: props.tls.secretName! };
  const secretName = `${props.instance}-tls`;
  const certificate = new certmanager.Certificate(scope, 'Certificate', {
    metadata: {
      name: secretName,
      ...(namespace === undefined ? {} : { namespace }),
      labels: componentLabels(props.instance, 'ingress', props.version),
    },
    spec: certificateSpec(props, secretName, props.tls.issuer),
  });
  return { secretName, certificate };
}

function certificateSpec(
  props: ServedCertificateProps,
  secretName: string,
  issuer: IssuerRef,
): certmanager.CertificateSpec {
  const problems = new Problems();
  checkCertificate(problems, 'tls', props.tls);
  problems.throwIfAny('certificate');
  return {
    secretName,
    // Go ignores the common name when checking a host; the SAN is what counts
    dnsNames: [props.host],
    ...(props.host.length <= 64 ? { commonName: props.host } : {}),
    duration: props.tls.certificate.duration ?? DEFAULT_DURATION,
    renewBefore: renewBeforeOf(props.tls.certificate),
    privateKey: {
      algorithm: certmanager.CertificateSpecPrivateKeyAlgorithm.ECDSA,
      size: 256,
      rotationPolicy: certmanager.CertificateSpecPrivateKeyRotationPolicy.ALWAYS,
    },
    usages: [
      certmanager.CertificateSpecUsages.DIGITAL_SIGNATURE,
      certmanager.CertificateSpecUsages.SERVER_AUTH,
    ],
    issuerRef: toIssuerRef(issuer),
  };
}

import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import * as certmanager from '../../imports/cert-manager.io';
import { CaBundleRef, HarborComponentProps, HarborEndpoints, keyFileVolume } from './common';
import { checkLifetime, renewBeforeOf } from './ingress';
import { IssuerRef, toIssuerRef } from '../pki/issuer-ref';
import { SelfSignedCa } from '../pki/self-signed-ca';
import { objectName } from '../private/checks';
import { componentLabels } from '../private/labels';
import { Problems, show } from '../private/validation';

/**
 * HTTPS between Harbor's components, each with a cert-manager certificate of its own. The
 * built-in PostgreSQL and Redis stay plain, as in Harbor's chart.
 *
 * Harbor's processes read their certificates and their trust at start only: cert-manager
 * renews the files in place, but a pod keeps serving the old certificate until it restarts.
 * Restart core, portal, registry, jobservice and Trivy within `renewBefore` of every renewal.
 */
export interface InternalTlsOptions {
  /** false leaves internal traffic plain, as without the option. */
  readonly enabled: boolean;

  /**
   * The issuer that signs every component's certificate. It must fill `ca.crt` in the Secrets
   * it writes (cert-manager's CA and Vault issuers do; ACME cannot issue for Service names).
   * @default - a self-signed CA in Harbor's namespace, made for internal TLS alone
   */
  readonly issuer?: IssuerRef;

  /**
   * Lifetime of each component certificate, in hours (`8760h`) or minutes.
   * @default '8760h'
   */
  readonly duration?: string;

  /**
   * How long before expiry cert-manager renews; also how long you have to restart Harbor
   * after a renewal.
   * @default - a third of `duration`, at most '720h'
   */
  readonly renewBefore?: string;
}

/** The components that serve HTTPS; registryctl shares the registry's certificate. */
export type TlsComponent = 'core' | 'jobservice' | 'portal' | 'registry' | 'trivy';

/** A component's listening port and the Service port in front of it. */
export interface ComponentPort {
  readonly container: number;
  readonly service: number;
  /** Name of the Service port. */
  readonly name: string;
}

/** Ports of every component, plain or with internal TLS. */
export interface ComponentPorts {
  readonly core: ComponentPort;
  readonly portal: ComponentPort;
  readonly jobservice: ComponentPort;
  readonly registry: ComponentPort;
  readonly registryctl: ComponentPort;
  readonly trivy: ComponentPort;
}

const PLAIN_PORTS: ComponentPorts = {
  core: { container: 8080, service: 80, name: 'http-web' },
  portal: { container: 8080, service: 80, name: 'http-web' },
  jobservice: { container: 8080, service: 80, name: 'http-jobservice' },
  registry: { container: 5000, service: 5000, name: 'http-registry' },
  registryctl: { container: 8080, service: 8080, name: 'http-controller' },
  trivy: { container: 8080, service: 8080, name: 'http-trivy' },
};

// the ports Harbor's chart uses with internal TLS; core listens on 8443 whatever app.conf says
const TLS_PORTS: ComponentPorts = {
  core: { container: 8443, service: 443, name: 'https-web' },
  portal: { container: 8443, service: 443, name: 'https-web' },
  jobservice: { container: 8443, service: 443, name: 'https-jobservice' },
  registry: { container: 5443, service: 5443, name: 'https-registry' },
  registryctl: { container: 8443, service: 8443, name: 'https-controller' },
  trivy: { container: 8443, service: 8443, name: 'https-trivy' },
};

export function portsFor(internalTls: boolean): ComponentPorts {
  return internalTls ? TLS_PORTS : PLAIN_PORTS;
}

export function componentPorts(endpoints: HarborEndpoints): ComponentPorts {
  return portsFor(endpoints.internalTls ?? false);
}

/** The addresses Harbor's components call each other by. */
export interface InternalUrls {
  readonly core: string;
  /** Core calling itself, past its Service. */
  readonly coreLocal: string;
  readonly tokenService: string;
  readonly jobservice: string;
  readonly portal: string;
  readonly registry: string;
  readonly registryController: string;
  /** Undefined when scanning is off. */
  readonly trivy?: string;
}

/**
 * Every internal URL, by Service name and Service port. The jobservice and portal URLs carry
 * no port, as Harbor's own defaults, so they are on the scheme's default port.
 */
export function internalUrls(endpoints: HarborEndpoints): InternalUrls {
  const scheme = endpoints.internalTls ? 'https' : 'http';
  const ports = componentPorts(endpoints);
  const core = `${scheme}://${endpoints.coreService}:${ports.core.service}`;
  return {
    core,
    coreLocal: `${scheme}://127.0.0.1:${ports.core.container}`,
    tokenService: `${core}/service/token`,
    jobservice: `${scheme}://${endpoints.jobserviceService}`,
    portal: `${scheme}://${endpoints.portalService}`,
    registry: `${scheme}://${endpoints.registryService}:${ports.registry.service}`,
    registryController: `${scheme}://${endpoints.registryService}:${ports.registryctl.service}`,
    trivy: endpoints.trivyService
      ? `${scheme}://${endpoints.trivyService}:${ports.trivy.service}`
      : undefined,
  };
}

/** The probes' scheme: the kubelet checks the same listener the Service sends traffic to. */
export function probeScheme(endpoints: HarborEndpoints): kplus.ConnectionScheme {
  return endpoints.internalTls ? kplus.ConnectionScheme.HTTPS : kplus.ConnectionScheme.HTTP;
}

/** The Secret cert-manager writes a component's key pair and CA into. */
export function internalTlsSecretName(instance: string, component: TlsComponent): string {
  return `${instance}-${component}-internal-tls`;
}

/** Where Harbor expects a component's `tls.crt`, `tls.key` and `ca.crt`. */
export function internalTlsDir(component: TlsComponent): string {
  return `/etc/harbor/ssl/${component}`;
}

/**
 * The component's certificate Secret, mounted whole (no subPath, so renewals land in the
 * files) where install_cert.sh also finds its `ca.crt` and adds it to the trust store.
 * Without group ownership by fsGroup, the files must be world-readable for uid 10000.
 */
export function internalTlsMounts(
  scope: Construct,
  props: HarborComponentProps,
  component: TlsComponent,
  fsGroup = true,
): kplus.VolumeMount[] {
  if (!props.endpoints.internalTls) return [];
  const id = 'InternalTlsVolume';
  const volume =
    (scope.node.tryFindChild(id) as kplus.Volume | undefined) ??
    kplus.Volume.fromSecret(
      scope,
      id,
      kplus.Secret.fromSecretName(
        scope,
        'InternalTlsSecret',
        internalTlsSecretName(props.instance, component),
      ),
      { name: 'internal-tls', defaultMode: fsGroup ? 0o440 : 0o444 },
    );
  return [{ volume, path: internalTlsDir(component), readOnly: true }];
}

/**
 * The internal CA alone, for a pod that calls core but serves nothing itself: the `ca.crt` of
 * core's Secret, without its key, where install_cert.sh adds it to the trust store.
 */
export function internalCaMount(
  scope: Construct,
  props: HarborComponentProps,
): kplus.VolumeMount[] {
  if (!props.endpoints.internalTls) return [];
  const ref = { name: internalTlsSecretName(props.instance, 'core'), key: 'ca.crt' };
  const volume = keyFileVolume(scope, 'internal-ca', ref, 'ca.crt');
  return [{ volume, path: `${internalTlsDir('core')}/ca.crt`, subPath: 'ca.crt', readOnly: true }];
}

/** The `INTERNAL_TLS_*` env that core, jobservice, registry and registryctl read. */
export function internalTlsEnv(
  props: HarborComponentProps,
  component: TlsComponent,
): Record<string, kplus.EnvValue> {
  if (!props.endpoints.internalTls) return {};
  const dir = internalTlsDir(component);
  return {
    INTERNAL_TLS_ENABLED: kplus.EnvValue.fromValue('true'),
    INTERNAL_TLS_KEY_PATH: kplus.EnvValue.fromValue(`${dir}/tls.key`),
    INTERNAL_TLS_CERT_PATH: kplus.EnvValue.fromValue(`${dir}/tls.crt`),
    INTERNAL_TLS_TRUST_CA_PATH: kplus.EnvValue.fromValue(`${dir}/ca.crt`),
  };
}

export interface HarborInternalTlsProps extends InternalTlsOptions {
  readonly instance: string;
  readonly version: string;
  readonly endpoints: HarborEndpoints;
}

const DEFAULT_DURATION = '8760h';
/** Lifetime of the self-signed internal CA, the default of SelfSignedCa. */
const CA_DURATION = '87600h';

/** Records what is wrong with the internal TLS options, under `field`. */
export function checkInternalTls(
  problems: Problems,
  field: string,
  options: InternalTlsOptions,
): void {
  if (!options.enabled) return;
  if (options.issuer) problems.value(`${field}.issuer.name`, options.issuer.name, objectName);
  const lifetime = options.duration ?? DEFAULT_DURATION;
  const most = options.issuer ? options.issuer.maxDuration : CA_DURATION;
  const whose = options.issuer
    ? `issuer ${show(options.issuer.name)} grants (${show(most)}); ask for at most ${most} or` +
      ` raise the limit (${field}.issuer.maxDuration)`
    : `the internal CA lives (${show(most)}); a certificate cannot outlive its CA, so ask` +
      ` for at most ${most}`;
  checkLifetime(problems, field, {
    duration: lifetime,
    renewBefore: renewBeforeOf({ duration: lifetime, renewBefore: options.renewBefore }),
    renewed: 'the certificates as soon as they are issued',
    limit: most === undefined ? undefined : { most, whose },
  });
}

/**
 * The certificates of internal TLS: one per component, for the Service name Harbor's URLs use
 * (core also for `localhost` and 127.0.0.1, which it calls itself by), from the given issuer or
 * from a self-signed CA made for internal TLS alone.
 */
export class HarborInternalTls extends Construct {
  /** The issuer that signs the component certificates. */
  public readonly issuer: IssuerRef;
  /** The CA made when no issuer is given. */
  public readonly ca?: SelfSignedCa;
  /** The CA certificate that signs core's certificate: what a client of core must trust. */
  public readonly caBundle: CaBundleRef;
  public readonly certificates: Partial<Record<TlsComponent, certmanager.Certificate>> = {};

  public constructor(scope: Construct, id: string, props: HarborInternalTlsProps) {
    super(scope, id);

    const problems = new Problems();
    checkInternalTls(problems, 'internalTls', props);
    problems.throwIfAny('internal TLS');

    const labels = componentLabels(props.instance, 'internal-tls', props.version);
    if (props.issuer) {
      this.issuer = props.issuer;
    } else {
      this.ca = new SelfSignedCa(this, 'Ca', {
        name: `${props.instance}-internal-ca`,
        commonName: `${props.instance} internal CA`,
        duration: CA_DURATION,
      });
      this.issuer = this.ca.issuer;
    }
    this.caBundle = { name: internalTlsSecretName(props.instance, 'core'), key: 'ca.crt' };

    const endpoints = props.endpoints;
    const services: Array<[TlsComponent, string | undefined]> = [
      ['core', endpoints.coreService],
      ['jobservice', endpoints.jobserviceService],
      ['portal', endpoints.portalService],
      ['registry', endpoints.registryService],
      ['trivy', endpoints.trivyService],
    ];
    const lifetime = props.duration ?? DEFAULT_DURATION;
    for (const [component, service] of services) {
      if (!service) continue;
      const secretName = internalTlsSecretName(props.instance, component);
      const self = component === 'core';
      this.certificates[component] = new certmanager.Certificate(this, component, {
        metadata: { name: secretName, labels },
        spec: {
          secretName,
          commonName: service,
          dnsNames: self ? [service, 'localhost'] : [service],
          ...(self ? { ipAddresses: ['127.0.0.1'] } : {}),
          duration: lifetime,
          renewBefore: renewBeforeOf({ duration: lifetime, renewBefore: props.renewBefore }),
          privateKey: {
            algorithm: certmanager.CertificateSpecPrivateKeyAlgorithm.ECDSA,
            size: 256,
            rotationPolicy: certmanager.CertificateSpecPrivateKeyRotationPolicy.ALWAYS,
          },
          usages: [
            certmanager.CertificateSpecUsages.DIGITAL_SIGNATURE,
            certmanager.CertificateSpecUsages.SERVER_AUTH,
            // Harbor's internal clients present their own pair as a client certificate
            certmanager.CertificateSpecUsages.CLIENT_AUTH,
          ],
          issuerRef: toIssuerRef(this.issuer),
        },
      });
    }
  }
}

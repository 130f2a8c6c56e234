import { HarborConfig } from './config';
import { HarborExposure } from '../harbor/exposure';
import { HarborTls } from '../harbor/ingress';
import { AcmeSolver } from '../pki/acme-issuer';
import { IssuerKind } from '../pki/issuer-ref';
import { Problems, show } from '../private/validation';

/** ingress-nginx's class when a configuration names none. */
const PROFILE_CLASS = 'nginx';

/**
 * The exposure a configuration asks for. Without an `exposure` section it is ingress-nginx with
 * `ingressClassName`, as before there was a choice.
 */
export function exposureOf(config: HarborConfig): HarborExposure {
  const exposure = config.exposure;
  switch (exposure?.type) {
    case 'traefik':
      return HarborExposure.traefik(exposure);
    case 'gatewayApi':
      return HarborExposure.gatewayApi(exposure);
    case 'nginx':
      return HarborExposure.ingressNginx({
        className: exposure.className ?? config.ingressClassName,
      });
    default:
      return HarborExposure.ingressNginx({ className: config.ingressClassName });
  }
}

type Acme = Extract<HarborConfig['tls'], { type: 'acme' }>;

/**
 * The HTTP-01 solver for the exposure: an Ingress of the controller's class, or an HTTPRoute on
 * the Gateway, which answers for the host on port 80.
 */
export function http01Solver(config: HarborConfig, acme: Acme): AcmeSolver {
  const exposure = exposureOf(config);
  if (exposure.gateway) return AcmeSolver.http01Gateway(exposure.gateway);
  return AcmeSolver.http01({
    ingressClassName: acme.http01?.ingressClassName ?? exposure.className ?? PROFILE_CLASS,
  });
}

/**
 * Records what the exposure section contradicts: a class given twice, an HTTP-01 Ingress class
 * with a Gateway, and an Issuer of Harbor's namespace asked for the Gateway's certificate.
 */
export function checkExposureConfig(
  config: HarborConfig,
  tls: HarborTls,
  problems: Problems,
): void {
  const exposure = config.exposure;
  if (!exposure) return;

  const legacy = config.ingressClassName;
  const own = exposure.type === 'gatewayApi' ? undefined : exposure.className;
  if (legacy !== undefined) {
    problems.check(
      exposure.type === 'nginx' && (own === undefined || own === legacy),
      'ingressClassName',
      `${show(legacy)} is the class of the ingress-nginx exposure without an exposure section,` +
        ` and exposure.type is ${show(exposure.type)}` +
        (own === undefined ? '' : ` with className ${show(own)}`) +
        '; set the class in exposure.className only and remove ingressClassName',
    );
  }

  if (exposure.type !== 'gatewayApi') return;
  const gatewayNamespace = exposure.gateway.namespace;
  if (config.tls.type === 'acme') {
    problems.check(
      config.tls.http01?.ingressClassName === undefined,
      'tls.http01.ingressClassName',
      `${show(config.tls.http01?.ingressClassName)} names an Ingress class, but exposure.type` +
        ' is "gatewayApi": the HTTP-01 challenge is answered through the Gateway (a listener on' +
        ' port 80 for the host); remove it, or use dns01',
    );
  }
  // the issuers this app makes live in Harbor's namespace; a named Issuer is the user's to place
  const made = ['selfSigned', 'vault', 'acme'].includes(config.tls.type);
  const namespaced =
    tls.issuer !== undefined && (tls.issuer.kind ?? IssuerKind.ISSUER) === IssuerKind.ISSUER;
  if (made && namespaced && gatewayNamespace !== config.namespace) {
    problems.add(
      'tls.issuerKind',
      `"Issuer" is made in Harbor's namespace ${show(config.namespace)} and cannot issue the` +
        ` Gateway's certificate, which must be in exposure.gateway.namespace` +
        ` ${show(gatewayNamespace)}; use "ClusterIssuer"`,
    );
  }
}

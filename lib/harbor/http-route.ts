import { ApiObject, Chart } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import { GatewayRef, HarborExposure } from './exposure';
import { CORE_PATHS, HarborTls, servedCertificate } from './ingress';
import * as certmanager from '../../imports/cert-manager.io';
import { IssuerKind } from '../pki/issuer-ref';
import { componentLabels } from '../private/labels';
import { Problems, show } from '../private/validation';

export interface HarborHttpRouteProps {
  readonly instance: string;
  readonly version: string;
  /** The host name users reach Harbor by. */
  readonly host: string;
  readonly tls: HarborTls;
  readonly coreService: kplus.Service;
  readonly portalService: kplus.Service;
  /** A `HarborExposure.gatewayApi(...)`. */
  readonly exposure: HarborExposure;
}

/** The parts of a `gateway.networking.k8s.io/v1` HTTPRoute spec this construct writes. */
interface HttpRouteSpec {
  readonly parentRefs: ReadonlyArray<{
    readonly group: string;
    readonly kind: string;
    readonly name: string;
    readonly namespace: string;
    readonly sectionName?: string;
  }>;
  readonly hostnames: readonly string[];
  readonly rules: ReadonlyArray<{
    readonly matches: ReadonlyArray<{ readonly path: { readonly type: string; value: string } }>;
    readonly backendRefs: ReadonlyArray<{ readonly name: string; readonly port: number }>;
    readonly timeouts?: { readonly request: string; readonly backendRequest: string };
  }>;
}

const GATEWAY_GROUP = 'gateway.networking.k8s.io';

/**
 * "0s" turns a Gateway's timeout off (or sets it to the longest it allows): a push streams a
 * layer of gigabytes in one request, which any fixed limit cuts on a slow link.
 */
export const UNLIMITED_TIMEOUTS = { request: '0s', backendRequest: '0s' } as const;

/**
 * Harbor's single public entry point through the Gateway API: an HTTPRoute for one host on a
 * Gateway that exists, with the certificate the Gateway's listener serves issued into the
 * Gateway's namespace. The Gateway passes the Host header on, which the registry's token realm
 * is built from.
 */
export class HarborHttpRoute extends Construct {
  public readonly route: ApiObject;
  /** The Secret, in the Gateway's namespace, the listener must name in `certificateRefs`. */
  public readonly tlsSecretName: string;
  public readonly certificate?: certmanager.Certificate;
  public readonly gateway: GatewayRef;

  public constructor(scope: Construct, id: string, props: HarborHttpRouteProps) {
    super(scope, id);

    const problems = new Problems();
    problems.check(
      props.exposure.gateway !== undefined,
      'exposure',
      `${show(props.exposure.type)} is served by an Ingress (HarborIngress), not by an HTTPRoute`,
    );
    problems.throwIfAny('HTTPRoute');
    this.gateway = props.exposure.gateway!;

    const served = servedCertificate(this, props, this.gateway.namespace);
    this.tlsSecretName = served.secretName;
    this.certificate = served.certificate;

    const spec: HttpRouteSpec = {
      parentRefs: [
        {
          group: GATEWAY_GROUP,
          kind: 'Gateway',
          name: this.gateway.name,
          namespace: this.gateway.namespace,
          ...(this.gateway.sectionName ? { sectionName: this.gateway.sectionName } : {}),
        },
      ],
      hostnames: [props.host],
      rules: [
        {
          matches: CORE_PATHS.map((value) => ({ path: { type: 'PathPrefix', value } })),
          backendRefs: [{ name: props.coreService.name, port: 80 }],
          timeouts: UNLIMITED_TIMEOUTS,
        },
        {
          matches: [{ path: { type: 'PathPrefix', value: '/' } }],
          backendRefs: [{ name: props.portalService.name, port: 80 }],
        },
      ],
    };
    this.route = new ApiObject(this, 'Resource', {
      apiVersion: `${GATEWAY_GROUP}/v1`,
      kind: 'HTTPRoute',
      metadata: {
        name: props.instance,
        labels: componentLabels(props.instance, 'ingress', props.version),
      },
      spec,
    });

    // an Issuer built in this app is known by its namespace, which must be the Gateway's
    const issuer = props.tls.issuer;
    if (issuer && (issuer.kind ?? IssuerKind.ISSUER) === IssuerKind.ISSUER) {
      this.node.addValidation({
        validate: () => misplacedIssuer(this, issuer.name, this.gateway.namespace),
      });
    }
  }
}

/**
 * A problem when the app defines Issuers of that name and none is in the namespace the
 * certificate is requested in: an Issuer serves its own namespace only.
 */
function misplacedIssuer(scope: Construct, name: string, namespace: string): string[] {
  const found = scope.node.root.node
    .findAll()
    .filter((c): c is ApiObject => c instanceof ApiObject)
    .filter((o) => o.kind === 'Issuer' && o.apiVersion.startsWith('cert-manager.io/'))
    .filter((o) => o.name === name)
    .map((o) => o.metadata.namespace ?? Chart.of(o).namespace);
  if (found.length === 0 || found.includes(namespace)) return [];
  return [
    `tls: Issuer ${show(name)} is in namespace ${show(found[0])} and cannot issue the` +
      ` Gateway's certificate in ${show(namespace)}; use a ClusterIssuer, or an Issuer in` +
      ` ${show(namespace)}`,
  ];
}

import { label, objectName } from '../private/checks';
import { Problems, show } from '../private/validation';

/** The controllers Harbor can be exposed through. */
export enum ExposureType {
  INGRESS_NGINX = 'ingressNginx',
  TRAEFIK = 'traefik',
  GATEWAY_API = 'gatewayApi',
}

export interface IngressNginxOptions {
  /**
   * The IngressClass of the ingress-nginx controller.
   * @default 'nginx'
   */
  readonly className?: string;
}

export interface TraefikOptions {
  /**
   * The IngressClass Traefik's Kubernetes Ingress provider watches.
   * @default 'traefik'
   */
  readonly className?: string;

  /**
   * The Traefik entry points the router listens on, which must terminate TLS.
   * @default ['websecure']
   * @see https://doc.traefik.io/traefik/reference/routing-configuration/kubernetes/ingress/
   */
  readonly entryPoints?: string[];
}

/** A Gateway that exists in the cluster, by name. */
export interface GatewayRef {
  readonly name: string;

  /** The Gateway's namespace, where its listener reads the certificate Secret. */
  readonly namespace: string;

  /**
   * The listener the route attaches to, such as `https`.
   * @default - every listener of the Gateway whose hostname matches
   */
  readonly sectionName?: string;
}

export interface GatewayApiOptions {
  readonly gateway: GatewayRef;
}

/**
 * How Harbor's single host is reached from outside the cluster: an Ingress for ingress-nginx or
 * for Traefik, or a Gateway API HTTPRoute attached to a Gateway that exists. Each carries the
 * settings large pushes need where the route can set them.
 */
export class HarborExposure {
  /**
   * An Ingress for ingress-nginx, with no body size limit, no request buffering and 900 second
   * read and send timeouts, as Harbor's own nginx has.
   */
  public static ingressNginx(options: IngressNginxOptions = {}): HarborExposure {
    return new HarborExposure(ExposureType.INGRESS_NGINX, options.className ?? 'nginx', {});
  }

  /**
   * An Ingress for Traefik's Kubernetes Ingress provider, on TLS entry points. Traefik limits no
   * body size, but its entry points cut every request still being read after
   * `transport.respondingTimeouts.readTimeout` (60s by default since v2.11.2), which a route
   * cannot change: install Traefik with that timeout at 0 on the entry points listed here, or
   * pushes of large layers fail.
   */
  public static traefik(options: TraefikOptions = {}): HarborExposure {
    return new HarborExposure(ExposureType.TRAEFIK, options.className ?? 'traefik', {
      entryPoints: options.entryPoints ?? ['websecure'],
    });
  }

  /**
   * A `gateway.networking.k8s.io/v1` HTTPRoute attached to a Gateway that exists. TLS ends at
   * the Gateway, so the certificate is issued into the Gateway's namespace, where its listener
   * names it in `certificateRefs`; the listener must admit routes from Harbor's namespace.
   */
  public static gatewayApi(options: GatewayApiOptions): HarborExposure {
    return new HarborExposure(ExposureType.GATEWAY_API, undefined, { gateway: options.gateway });
  }

  private constructor(
    public readonly type: ExposureType,
    /** The IngressClass, for the exposures through an Ingress. */
    public readonly className: string | undefined,
    private readonly options: { entryPoints?: string[]; gateway?: GatewayRef },
  ) {}

  /** Traefik's entry points; empty for the other exposures. */
  public get entryPoints(): readonly string[] {
    return this.options.entryPoints ?? [];
  }

  /** The Gateway an HTTPRoute attaches to, for the Gateway API exposure. */
  public get gateway(): GatewayRef | undefined {
    return this.options.gateway;
  }

  /**
   * The namespace the served certificate's Secret must be in: the Gateway's, or
   * undefined for Harbor's own.
   */
  public get certificateNamespace(): string | undefined {
    return this.options.gateway?.namespace;
  }
}

/** A Gateway API `SectionName`: a listener's name. */
const sectionName = (value: string) =>
  /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(value) && value.length <= 253
    ? undefined
    : "is not a listener name; use lowercase letters, digits and '-', as the Gateway's" +
      ' listeners[].name';

/** Records what is wrong with an exposure, under `field`. */
export function checkExposure(problems: Problems, field: string, exposure: HarborExposure): void {
  problems.value(`${field}.className`, exposure.className, objectName);
  exposure.entryPoints.forEach((entryPoint, i) =>
    problems.value(`${field}.entryPoints[${i}]`, entryPoint, (value) =>
      /^[A-Za-z0-9_-]+$/.test(value)
        ? undefined
        : "is not a Traefik entry point name; use letters, digits, '-' and '_', as in the" +
          ' static configuration (--entryPoints.<name>.address)',
    ),
  );
  if (exposure.type === ExposureType.TRAEFIK) {
    problems.check(
      exposure.entryPoints.length > 0,
      `${field}.entryPoints`,
      `${show(exposure.entryPoints)} is empty; name the TLS entry point, such as "websecure"`,
    );
  }
  const gateway = exposure.gateway;
  if (gateway) {
    problems.value(`${field}.gateway.name`, gateway.name, objectName);
    problems.value(`${field}.gateway.namespace`, gateway.namespace, label);
    problems.value(`${field}.gateway.sectionName`, gateway.sectionName, sectionName);
  }
}

import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';
import * as certmanager from '../../imports/cert-manager.io';
import { IssuerKind, IssuerRef, issuerNamespace, newIssuer } from './issuer-ref';
import { SecretKeyRef } from '../harbor/common';
import { dataKey, dnsName, objectName, serverAddress } from '../private/checks';
import { Problems, show } from '../private/validation';

/** The TSIG algorithms cert-manager's RFC 2136 solver accepts. */
const TSIG_ALGORITHMS = ['HMACMD5', 'HMACSHA1', 'HMACSHA256', 'HMACSHA512'];

/** How the ACME server is shown that we control the registry's name. */
export class AcmeSolver {
  /**
   * HTTP-01 through an ingress controller: the ACME server fetches a token from
   * `http://<host>/.well-known/acme-challenge/`, so the host must be reachable from it on port 80.
   * @see https://cert-manager.io/docs/configuration/acme/http01/
   */
  public static http01(options: { readonly ingressClassName: string }): AcmeSolver {
    return new AcmeSolver('http01', { http01: { ingress: { ...options } } }, (problems, prefix) =>
      problems.value(`${prefix}ingressClassName`, options.ingressClassName, objectName),
    );
  }

  /**
   * HTTP-01 through a Gateway API Gateway: cert-manager attaches an HTTPRoute for the token to
   * the Gateway, in the Certificate's namespace. It needs cert-manager's Gateway API support
   * switched on (`enableGatewayAPI` in its configuration) and a listener on port 80 for the host
   * that admits routes from that namespace.
   * @see https://cert-manager.io/docs/configuration/acme/http01/#configuring-the-http-01-gateway-api-solver
   */
  public static http01Gateway(gateway: {
    readonly name: string;
    readonly namespace: string;
  }): AcmeSolver {
    const parentRef = {
      group: 'gateway.networking.k8s.io',
      kind: 'Gateway',
      name: gateway.name,
      namespace: gateway.namespace,
    };
    return new AcmeSolver(
      'http01',
      { http01: { gatewayHttpRoute: { parentRefs: [parentRef] } } },
      (problems, prefix) => {
        problems.value(`${prefix}gateway.name`, gateway.name, objectName);
        problems.value(`${prefix}gateway.namespace`, gateway.namespace, objectName);
      },
    );
  }

  /**
   * DNS-01 through RFC 2136 dynamic updates (BIND, PowerDNS, Windows DNS with TSIG): for hosts
   * the ACME server cannot reach, such as a registry inside a private network.
   * @see https://cert-manager.io/docs/configuration/acme/dns01/rfc2136/
   */
  public static dns01Rfc2136(options: AcmeRfc2136Options): AcmeSolver {
    const spec: certmanager.IssuerSpecAcmeSolvers = {
      dns01: {
        rfc2136: {
          nameserver: options.nameserver,
          ...(options.tsigKeyName ? { tsigKeyName: options.tsigKeyName } : {}),
          ...(options.tsigAlgorithm ? { tsigAlgorithm: options.tsigAlgorithm } : {}),
          ...(options.tsigSecret
            ? {
                tsigSecretSecretRef: { name: options.tsigSecret.name, key: options.tsigSecret.key },
              }
            : {}),
        },
      },
    };
    return new AcmeSolver('dns01', spec, (problems, prefix) => {
      problems.value(`${prefix}nameserver`, options.nameserver, (value) => {
        const [host, port, ...rest] = value.split(':');
        const portOk =
          port === undefined ||
          (/^\d{1,5}$/.test(port) && Number(port) >= 1 && Number(port) <= 65535);
        return rest.length === 0 && portOk && serverAddress(host) === undefined
          ? undefined
          : 'is not a DNS server address; use host or host:port, such as "ns1.example.test:53"';
      });
      problems.value(`${prefix}tsigAlgorithm`, options.tsigAlgorithm, (algorithm) =>
        TSIG_ALGORITHMS.includes(algorithm)
          ? undefined
          : `is not a TSIG algorithm cert-manager knows; use one of ${TSIG_ALGORITHMS.join(', ')}`,
      );
      problems.check(
        (options.tsigKeyName === undefined) === (options.tsigSecret === undefined),
        `${prefix}tsigKeyName`,
        'and tsigSecret go together: the key name tells the server which secret signs the update',
      );
      if (options.tsigSecret) {
        problems.value(`${prefix}tsigSecret.name`, options.tsigSecret.name, objectName);
        problems.value(`${prefix}tsigSecret.key`, options.tsigSecret.key, dataKey);
      }
    });
  }

  private constructor(
    /** `http01` or `dns01`, the field name the solver's settings are reported under. */
    public readonly type: 'http01' | 'dns01',
    public readonly spec: certmanager.IssuerSpecAcmeSolvers,
    private readonly checkOptions: (problems: Problems, prefix: string) => void,
  ) {}

  /** Records the problems of the solver's options, each under `prefix`. */
  public check(problems: Problems, prefix: string): void {
    this.checkOptions(problems, prefix);
  }
}

export interface AcmeRfc2136Options {
  /** The authoritative DNS server, `host` or `host:port` (IPv4). */
  readonly nameserver: string;
  /** @default - updates are not signed */
  readonly tsigKeyName?: string;
  /** @default 'HMACMD5', cert-manager's default */
  readonly tsigAlgorithm?: string;
  /** The TSIG secret, base64 as BIND prints it. @default - updates are not signed */
  readonly tsigSecret?: SecretKeyRef;
}

export interface AcmeIssuerProps {
  readonly name: string;

  /** @default IssuerKind.ISSUER */
  readonly kind?: IssuerKind;

  /**
   * The ACME directory URL, such as Let's Encrypt's or a commercial CA's.
   * @see https://cert-manager.io/docs/configuration/acme/
   */
  readonly server: string;

  /** Where the CA sends expiry warnings and account notices. */
  readonly email: string;

  readonly solver: AcmeSolver;

  /**
   * The Secret cert-manager keeps the ACME account's private key in. It creates it.
   * @default `<name>-account-key`
   */
  readonly privateKeySecretName?: string;

  /**
   * External account binding, which commercial ACME CAs require to tie the account to a
   * customer: the key id and the Secret key holding the HMAC key.
   * @default - none
   */
  readonly externalAccountBinding?: { readonly keyId: string; readonly keySecret: SecretKeyRef };
}

/**
 * A cert-manager issuer that obtains certificates from an ACME CA. Such certificates chain to a
 * public root that nodes and clients trust already; their Secrets hold no `ca.crt`.
 */
export class AcmeIssuer extends Construct {
  public static check(props: AcmeIssuerProps, prefix = ''): readonly string[] {
    const problems = new Problems();
    problems.value(`${prefix}name`, props.name, objectName);
    problems.value(`${prefix}privateKeySecretName`, props.privateKeySecretName, objectName);
    problems.value(`${prefix}server`, props.server, (server) => {
      let url: URL | undefined;
      try {
        url = new URL(server);
      } catch {
        url = undefined;
      }
      return url?.protocol === 'https:' && dnsName(url.hostname) === undefined
        ? undefined
        : 'is not an https URL of an ACME directory; use e.g. "https://acme.example.test/directory"';
    });
    problems.value(`${prefix}email`, props.email, (email) =>
      /^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(email) ? undefined : 'is not an email address',
    );
    props.solver.check(problems, `${prefix}${props.solver.type}.`);
    const binding = props.externalAccountBinding;
    if (binding) {
      problems.check(binding.keyId.length > 0, `${prefix}externalAccountBinding.keyId`, 'is empty');
      problems.value(
        `${prefix}externalAccountBinding.keySecret.name`,
        binding.keySecret.name,
        objectName,
      );
    }
    return problems.all;
  }

  public readonly issuer: IssuerRef;
  public readonly resource: ApiObject;

  public constructor(scope: Construct, id: string, props: AcmeIssuerProps) {
    super(scope, id);

    const problems = new Problems();
    problems.addAll(AcmeIssuer.check(props));
    const kind = props.kind ?? IssuerKind.ISSUER;
    issuerNamespace(problems, this, kind);
    problems.throwIfAny(`ACME issuer ${show(props.name)}`);

    const binding = props.externalAccountBinding;
    this.resource = newIssuer(this, 'Resource', kind, props.name, {
      acme: {
        server: props.server,
        email: props.email,
        privateKeySecretRef: { name: props.privateKeySecretName ?? `${props.name}-account-key` },
        ...(binding
          ? {
              externalAccountBinding: {
                keyId: binding.keyId,
                keySecretRef: { name: binding.keySecret.name, key: binding.keySecret.key },
              },
            }
          : {}),
        solvers: [props.solver.spec],
      },
    });
    this.issuer = { name: props.name, kind };
  }
}

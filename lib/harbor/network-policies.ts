import { isIP } from 'net';
import { Lazy } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import { METRICS_PORT_NAME } from './metrics';
import * as k8s from '../../imports/k8s';
import { componentLabels, selectorLabels } from '../private/labels';
import { label, labelKey, labelValue, port } from '../private/checks';
import { Problems, show } from '../private/validation';

/** Pods of another namespace, chosen by the namespace's name and the pods' labels. */
export interface PodPeer {
  /** Matched on the `kubernetes.io/metadata.name` label Kubernetes gives every namespace. */
  readonly namespace: string;

  /** @default - every pod of the namespace */
  readonly podLabels?: Record<string, string>;
}

/**
 * Addresses outside the cluster's pod network. A NetworkPolicy matches peers by IP only, never
 * by host name, so a server such as `oidc.example.test` is given as the blocks it lives in.
 */
export interface ExternalEndpoints {
  /** CIDR blocks, IPv4 or IPv6: `192.0.2.0/24`, `2001:db8::/32`; `0.0.0.0/0` is any address. */
  readonly cidrs: string[];
  /** TCP ports. */
  readonly ports: number[];
}

/** Where a server outside the namespace lives, when its port is known already. */
export interface ServerAddresses {
  /** CIDR blocks, IPv4 or IPv6. */
  readonly cidrs: string[];
}

/** The choices of a user; the rest comes from the Harbor instance. */
export interface HarborNetworkPolicyOptions {
  /**
   * The pods that forward client traffic to core and portal, and to cert-manager's HTTP-01
   * solvers: the ingress controller, or the Gateway's proxy.
   * @default - namespace `ingress-nginx`, pods labelled `app.kubernetes.io/name: ingress-nginx`
   */
  readonly ingressController?: PodPeer;

  /**
   * The cluster's DNS servers, reached on UDP and TCP port 53.
   * @default - namespace `kube-system`, pods labelled `k8s-app: kube-dns` (CoreDNS keeps it)
   */
  readonly dns?: PodPeer;

  /**
   * The Kubernetes API server, which the Jobs that write Secrets and ConfigMaps call. It is no
   * pod: a policy sees the address the `kubernetes` Service forwards to, a control-plane node
   * or a managed endpoint, on the port the server listens on, so it is matched by address.
   * @default - any address on 443 and 6443
   */
  readonly kubernetesApi?: ExternalEndpoints;

  /**
   * What core and jobservice may reach outside the cluster: replication targets, proxy-cache
   * upstreams, webhook receivers, the OIDC or LDAP server, an HTTP proxy.
   * @default - nothing outside the cluster
   */
  readonly externalEgress?: ExternalEndpoints[];

  /**
   * Where Trivy downloads its vulnerability databases (or their mirror) and looks up Java
   * artifacts.
   * @default - any address on 443, unless the scanner is air-gapped without a mirror
   */
  readonly trivyEgress?: ExternalEndpoints[];

  /**
   * Where an external database lives; its port comes from `database.port`.
   * @default - any address, on that port only
   */
  readonly database?: ServerAddresses;

  /**
   * Where an external Redis lives; its port comes from `redis.port`.
   * @default - any address, on that port only
   */
  readonly redis?: ServerAddresses;

  /**
   * Where Vault lives, for the PKI setup Job when it runs in Harbor's namespace (a Vault
   * outside the cluster); its port comes from the server's URL.
   * @default - any address, on that port only
   */
  readonly vault?: ServerAddresses;

  /**
   * The Prometheus pods that scrape the components' `http-metrics` ports.
   * @default - every pod of the namespace `monitoring`
   */
  readonly metricsScrapers?: PodPeer;

  /**
   * Let the ingress controller reach the solver pods cert-manager starts in this namespace for
   * an ACME HTTP-01 challenge, when Harbor's certificate comes from such an issuer.
   * @default false
   */
  readonly acmeHttp01Solvers?: boolean;
}

export interface HarborNetworkPoliciesProps extends HarborNetworkPolicyOptions {
  /** Name of the Harbor instance; every object name starts with it. */
  readonly instance: string;
  readonly version: string;

  /**
   * The Services of the components that run in this namespace, by component name (`core`,
   * `database`, ...). Their target ports are what callers may reach, except the port named
   * `http-metrics`, which only scrapers may; ports are read when the policies are written, so
   * a Service that gains a port later is followed.
   */
  readonly services: Readonly<Record<string, kplus.Service | undefined>>;

  /** The port of an external database; undefined for the built-in one. */
  readonly externalDatabasePort?: number;

  /** The port of an external Redis; undefined for the built-in one. */
  readonly externalRedisPort?: number;

  /**
   * Whether the scanner calls out: downloads, mirrors or Java lookups.
   * @default true
   */
  readonly trivyOnline?: boolean;

  /**
   * Whether the scheduled database dump runs (and a restore pod may).
   * @default false
   */
  readonly backup?: boolean;
}

/** What a pod of this namespace that Harbor does not own may reach; nothing by default. */
export interface WorkloadFlows {
  /** @default false */
  readonly kubernetesApi?: boolean;

  /** Components it calls on their Services' ports: `core`, `database`, ... @default [] */
  readonly calls?: string[];

  /** @default [] */
  readonly external?: ExternalEndpoints[];

  /**
   * Its Service, whose `http-metrics` port scrapers may reach.
   * @default - no metrics
   */
  readonly service?: kplus.Service;
}

/** The port cert-manager's HTTP-01 solver pods listen on. */
export const ACME_SOLVER_PORT = 8089;

/** A party of a flow: pods of this namespace, pods elsewhere, or addresses outside. */
type Party =
  | { readonly kind: 'workload'; readonly name: string }
  | { readonly kind: 'pods'; readonly peer: PodPeer }
  | { readonly kind: 'addresses'; readonly cidrs: readonly string[] };

interface Port {
  readonly port: number;
  readonly protocol: 'TCP' | 'UDP';
}

interface Flow {
  readonly from: Party;
  readonly to: Party;
  /** Read at synthesis, so Services that change later are followed. */
  readonly ports: () => Port[];
}

interface Callee {
  readonly party: Party;
  readonly ports: () => Port[];
}

const ANY_ADDRESS = ['0.0.0.0/0', '::/0'];

/**
 * NetworkPolicies for Harbor's namespace: every pod is denied every connection, in and out,
 * then each component gets a policy of its own that admits exactly the calls Harbor makes, and
 * DNS. Flows are kept as caller and callee and turned into both halves, the caller's egress
 * and the callee's ingress, so that the two can never disagree.
 *
 * Limits: peers outside the cluster are matched by address, never by host name; whether an
 * address block also matches pods depends on the network plugin; probes of the kubelet come
 * from the node, which most plugins always admit.
 */
export class HarborNetworkPolicies extends Construct {
  /** The policy that isolates every pod of the namespace. */
  public readonly defaultDeny: k8s.KubeNetworkPolicy;

  private readonly instance: string;
  private readonly version: string;
  private readonly dns: PodPeer;
  private readonly kubernetesApi: ExternalEndpoints;
  private readonly scrapers: PodPeer;
  private readonly vaultCidrs?: string[];
  private readonly flows: Flow[] = [];
  private readonly callees = new Map<string, Callee>();
  private readonly workloads = new Map<string, Record<string, string>>();

  public constructor(scope: Construct, id: string, props: HarborNetworkPoliciesProps) {
    super(scope, id);

    const problems = new Problems();
    checkNetworkPolicies(problems, '', props);
    problems.throwIfAny('network policies');

    this.instance = props.instance;
    this.version = props.version;
    this.dns = props.dns ?? { namespace: 'kube-system', podLabels: { 'k8s-app': 'kube-dns' } };
    this.kubernetesApi = props.kubernetesApi ?? { cidrs: ANY_ADDRESS, ports: [443, 6443] };
    this.scrapers = props.metricsScrapers ?? { namespace: 'monitoring' };
    this.vaultCidrs = props.vault?.cidrs;
    const ingress: Party = {
      kind: 'pods',
      peer: props.ingressController ?? {
        namespace: 'ingress-nginx',
        podLabels: { 'app.kubernetes.io/name': 'ingress-nginx' },
      },
    };

    this.defaultDeny = new k8s.KubeNetworkPolicy(this, 'DefaultDeny', {
      metadata: { name: `${this.instance}-default-deny`, labels: this.labels('network') },
      spec: { podSelector: {}, policyTypes: ['Ingress', 'Egress'] },
    });

    for (const [name, service] of Object.entries(props.services)) {
      if (service) this.addWorkload(name, selectorLabels(this.instance, name), service);
    }
    if (props.externalDatabasePort !== undefined) {
      this.addServer('database', props.database?.cidrs, props.externalDatabasePort);
    }
    if (props.externalRedisPort !== undefined) {
      this.addServer('redis', props.redis?.cidrs, props.externalRedisPort);
    }

    for (const name of ['core', 'portal']) this.call(ingress, name);
    if (props.acmeHttp01Solvers) {
      const solver = 'acme-http01-solver';
      this.addWorkload(solver, { 'acme.cert-manager.io/http01-solver': 'true' }, undefined, false);
      this.flows.push({
        from: ingress,
        to: { kind: 'workload', name: solver },
        ports: () => [{ port: ACME_SOLVER_PORT, protocol: 'TCP' }],
      });
    }

    this.calls('core', ['registry', 'jobservice', 'trivy', 'database', 'redis', 'portal']);
    this.calls('jobservice', ['core', 'registry', 'trivy', 'database', 'redis']);
    this.calls('trivy', ['core', 'redis']);
    this.calls('registry', ['redis']);
    for (const name of ['core', 'jobservice']) {
      for (const endpoints of props.externalEgress ?? []) this.egress(name, endpoints);
    }
    if (this.workloads.has('trivy') && (props.trivyOnline ?? true)) {
      for (const endpoints of props.trivyEgress ?? [{ cidrs: ANY_ADDRESS, ports: [443] }]) {
        this.egress('trivy', endpoints);
      }
    }

    this.allowWorkload('secrets', selectorLabels(this.instance, 'secrets'), {
      kubernetesApi: true,
    });
    if (props.backup) {
      for (const name of ['database-backup', 'database-restore']) {
        this.allowWorkload(name, selectorLabels(this.instance, name), { calls: ['database'] });
      }
    }
  }

  /**
   * Lets the pods of `podLabels` in this namespace, which the Harbor construct does not own
   * (an exporter, the settings Job, the Vault setup Job), make the calls they need. Their
   * policy is named `<instance>-<name>`.
   */
  public allowWorkload(name: string, podLabels: Record<string, string>, flows: WorkloadFlows) {
    const problems = new Problems();
    (flows.external ?? []).forEach((e, i) => checkEndpoints(problems, `external[${i}]`, e));
    problems.throwIfAny(`network flows of ${name}`);

    this.addWorkload(name, podLabels, flows.service);
    this.calls(name, flows.calls ?? []);
    if (flows.kubernetesApi) this.egress(name, this.kubernetesApi);
    for (const endpoints of flows.external ?? []) this.egress(name, endpoints);
  }

  /**
   * Lets the Vault PKI setup Job of `podLabels` reach Vault at `server` (a URL) and the
   * Kubernetes API, where it publishes the root CA and configures Vault's login.
   */
  public allowVaultSetup(name: string, podLabels: Record<string, string>, server: string): void {
    const url = new URL(server);
    const serverPort = url.port ? Number(url.port) : url.protocol === 'http:' ? 80 : 443;
    this.allowWorkload(name, podLabels, {
      kubernetesApi: true,
      external: [{ cidrs: this.vaultCidrs ?? ANY_ADDRESS, ports: [serverPort] }],
    });
  }

  /** Calls from `from` to each callee that exists; a missing one (no Trivy) is skipped. */
  private calls(from: string, to: string[]): void {
    for (const name of to) {
      if (!this.callees.has(name) && !KNOWN_COMPONENTS.includes(name)) {
        const known = [...new Set([...KNOWN_COMPONENTS, ...this.callees.keys()])].sort();
        throw new Error(
          `${from} calls ${show(name)}, which is no component of this Harbor; name one of` +
            ` ${known.join(', ')}`,
        );
      }
      this.call({ kind: 'workload', name: from }, name);
    }
  }

  private call(from: Party, to: string): void {
    const callee = this.callees.get(to);
    if (callee) this.flows.push({ from, to: callee.party, ports: callee.ports });
  }

  private egress(from: string, endpoints: ExternalEndpoints): void {
    this.flows.push({
      from: { kind: 'workload', name: from },
      to: { kind: 'addresses', cidrs: endpoints.cidrs },
      ports: () => endpoints.ports.map((p) => ({ port: p, protocol: 'TCP' })),
    });
  }

  /** A server outside the namespace that components call as if it were one of them. */
  private addServer(name: string, cidrs: readonly string[] | undefined, serverPort: number) {
    this.callees.set(name, {
      party: { kind: 'addresses', cidrs: cidrs ?? ANY_ADDRESS },
      ports: () => [{ port: serverPort, protocol: 'TCP' }],
    });
  }

  /** The policy of one workload: what it may receive and send, resolved at synthesis. */
  private addWorkload(
    name: string,
    podLabels: Record<string, string>,
    service: kplus.Service | undefined,
    dns = true,
  ): void {
    if (this.workloads.has(name)) {
      throw new Error(
        `network policy ${show(name)} is defined twice: Harbor admits its own workloads; give` +
          ' allowWorkload a name of its own',
      );
    }
    this.workloads.set(name, podLabels);
    const self: Party = { kind: 'workload', name };
    if (service) {
      this.callees.set(name, { party: self, ports: () => servicePorts(service, false) });
      this.flows.push({
        from: { kind: 'pods', peer: this.scrapers },
        to: self,
        ports: () => servicePorts(service, true),
      });
    }
    if (dns) {
      this.flows.push({
        from: self,
        to: { kind: 'pods', peer: this.dns },
        ports: () => [
          { port: 53, protocol: 'UDP' },
          { port: 53, protocol: 'TCP' },
        ],
      });
    }

    new k8s.KubeNetworkPolicy(this, name, {
      metadata: { name: `${this.instance}-${name}`, labels: this.labels('network') },
      spec: {
        podSelector: { matchLabels: podLabels },
        policyTypes: ['Ingress', 'Egress'],
        ingress: Lazy.any({ produce: () => this.rules(name, 'ingress') }),
        egress: Lazy.any({ produce: () => this.rules(name, 'egress') }),
      },
    });
  }

  /** The rules of one direction of a workload's policy; flows with the same ports share one. */
  private rules(name: string, direction: 'ingress' | 'egress'): object[] | undefined {
    const byPorts = new Map<string, { ports: Port[]; peers: k8s.NetworkPolicyPeer[] }>();
    for (const flow of this.flows) {
      const [own, other] = direction === 'ingress' ? [flow.to, flow.from] : [flow.from, flow.to];
      if (own.kind !== 'workload' || own.name !== name) continue;
      const ports = flow.ports();
      // a rule without ports would admit every port
      if (ports.length === 0) continue;
      const key = JSON.stringify(ports);
      const rule = byPorts.get(key) ?? { ports, peers: [] };
      for (const peer of this.peers(other)) {
        if (!rule.peers.some((p) => JSON.stringify(p) === JSON.stringify(peer))) {
          rule.peers.push(peer);
        }
      }
      byPorts.set(key, rule);
    }
    if (byPorts.size === 0) return undefined;
    const peerKey = direction === 'ingress' ? 'from' : 'to';
    return [...byPorts.values()].map((rule) => ({
      [peerKey]: rule.peers,
      ports: rule.ports.map((p) => ({
        protocol: p.protocol,
        port: k8s.IntOrString.fromNumber(p.port),
      })),
    }));
  }

  private peers(party: Party): k8s.NetworkPolicyPeer[] {
    switch (party.kind) {
      case 'workload':
        return [{ podSelector: { matchLabels: this.workloads.get(party.name)! } }];
      case 'pods':
        return [
          {
            namespaceSelector: {
              matchLabels: { 'kubernetes.io/metadata.name': party.peer.namespace },
            },
            podSelector: party.peer.podLabels ? { matchLabels: party.peer.podLabels } : {},
          },
        ];
      case 'addresses':
        return party.cidrs.map((cidr) => ({ ipBlock: { cidr } }));
    }
  }

  private labels(component: string): Record<string, string> {
    return componentLabels(this.instance, component, this.version);
  }
}

/** Components a flow may name although this Harbor runs without them (Trivy off). */
const KNOWN_COMPONENTS = ['core', 'portal', 'registry', 'jobservice', 'trivy', 'database', 'redis'];

/** The pod ports behind a Service: the metrics port, or every other one. */
function servicePorts(service: kplus.Service, metrics: boolean): Port[] {
  return service.ports
    .filter((p) => (p.name === METRICS_PORT_NAME) === metrics)
    .map((p) => ({
      port: p.targetPort ?? p.port,
      protocol: p.protocol === kplus.Protocol.UDP ? 'UDP' : 'TCP',
    }));
}

/** What this Harbor runs, as far as the policy options depend on it. */
export interface NetworkPolicyContext {
  readonly trivy: boolean;
  readonly externalDatabase: boolean;
  readonly externalRedis: boolean;
}

/** Records every malformed or contradicting option under `field` (`networkPolicies`). */
export function checkNetworkPolicies(
  problems: Problems,
  field: string,
  options: HarborNetworkPolicyOptions,
  context?: NetworkPolicyContext,
): void {
  const at = (name: string) => (field ? `${field}.${name}` : name);
  checkPeer(problems, at('ingressController'), options.ingressController);
  checkPeer(problems, at('dns'), options.dns);
  checkPeer(problems, at('metricsScrapers'), options.metricsScrapers);
  if (options.kubernetesApi) checkEndpoints(problems, at('kubernetesApi'), options.kubernetesApi);
  for (const key of ['externalEgress', 'trivyEgress'] as const) {
    (options[key] ?? []).forEach((e, i) => checkEndpoints(problems, at(`${key}[${i}]`), e));
  }
  for (const key of ['database', 'redis', 'vault'] as const) {
    const server = options[key];
    if (server) checkCidrs(problems, at(`${key}.cidrs`), server.cidrs);
  }
  if (!context) return;

  problems.check(
    options.trivyEgress === undefined || context.trivy,
    at('trivyEgress'),
    'is set, but there is no scanner; remove it or turn trivy on',
  );
  const servers = [
    ['database', context.externalDatabase],
    ['redis', context.externalRedis],
  ] as const;
  for (const [key, external] of servers) {
    problems.check(
      options[key] === undefined || external,
      at(key),
      `names where an external ${key} lives, but ${key}.type is internal, which the` +
        ` component policies cover; remove ${at(key)}`,
    );
  }
}

function checkPeer(problems: Problems, field: string, peer: PodPeer | undefined): void {
  if (!peer) return;
  problems.value(`${field}.namespace`, peer.namespace, label);
  for (const [key, value] of Object.entries(peer.podLabels ?? {})) {
    problems.value(`${field}.podLabels`, key, labelKey);
    problems.value(`${field}.podLabels.${key}`, value, labelValue);
  }
}

function checkEndpoints(problems: Problems, field: string, endpoints: ExternalEndpoints): void {
  checkCidrs(problems, `${field}.cidrs`, endpoints.cidrs);
  problems.check(
    endpoints.ports.length > 0,
    `${field}.ports`,
    '[] is empty, which a policy reads as every port; list the ports',
  );
  endpoints.ports.forEach((p, i) => problems.value(`${field}.ports[${i}]`, p, port));
}

function checkCidrs(problems: Problems, field: string, cidrs: readonly string[]): void {
  problems.check(
    cidrs.length > 0,
    field,
    '[] is empty; list the address blocks, or 0.0.0.0/0 and ::/0 for any address',
  );
  cidrs.forEach((value, i) => problems.value(`${field}[${i}]`, value, cidr));
}

/** An IPv4 or IPv6 block in canonical form: no bits set after the prefix. */
export function cidr(value: string): string | undefined {
  const match = /^([^/]+)\/(\d{1,3})$/.exec(value);
  const version = match ? isIP(match[1]) : 0;
  const bits = version === 4 ? 32 : 128;
  if (!match || version === 0 || Number(match[2]) > bits) {
    return (
      'is not a CIDR block; write an address and a prefix length, like 192.0.2.0/24 or' +
      ' 2001:db8::/32'
    );
  }
  const address = version === 4 ? ipv4Bits(match[1]) : ipv6Bits(match[1]);
  const hostBits = BigInt(bits - Number(match[2]));
  if (address & ((1n << hostBits) - 1n)) {
    return `has bits set after the /${match[2]} prefix; write the block's first address`;
  }
  return undefined;
}

function ipv4Bits(address: string): bigint {
  return address.split('.').reduce((sum, part) => (sum << 8n) + BigInt(part), 0n);
}

function ipv6Bits(address: string): bigint {
  let text = address;
  // an embedded IPv4 tail (::ffff:192.0.2.1) becomes two groups
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const n = ipv4Bits(v4[1]);
    const groups = `${(n >> 16n).toString(16)}:${(n & 0xffffn).toString(16)}`;
    text = `${text.slice(0, -v4[1].length)}${groups}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const front = head ? head.split(':') : [];
  const back = tail ? tail.split(':') : [];
  const groups =
    tail === undefined
      ? front
      : [...front, ...Array(8 - front.length - back.length).fill('0'), ...back];
  return groups.reduce((sum, group) => (sum << 16n) + BigInt(parseInt(group, 16)), 0n);
}

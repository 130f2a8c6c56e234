import { isIP } from 'net';
import { K8sObject } from './synth';

/**
 * A pod (namespace and labels) or an address outside the cluster (ip). Policies select and
 * restrict pods only; an address is never isolated and matches ipBlock peers alone, which is
 * how most network plugins treat cluster-external traffic.
 */
export interface Endpoint {
  readonly name: string;
  readonly namespace?: string;
  readonly labels?: Record<string, string>;
  readonly ip?: string;
}

export interface Connection {
  readonly from: Endpoint;
  readonly to: Endpoint;
  readonly port: number;
  /** @default 'TCP' */
  readonly protocol?: 'TCP' | 'UDP' | 'SCTP';
}

/**
 * Whether the NetworkPolicies let a connection through, by the rules of the Kubernetes API:
 * a pod selected by some policy of a direction is isolated in that direction, and then only
 * what one of those policies allows gets through; a connection needs the egress side of its
 * source and the ingress side of its destination. Namespaces carry only the
 * `kubernetes.io/metadata.name` label that Kubernetes gives them.
 */
export function isAllowed(policies: K8sObject[], connection: Connection): boolean {
  const { from, to } = connection;
  return (
    sideAllows(policies, from, to, connection, 'Egress') &&
    sideAllows(policies, to, from, connection, 'Ingress')
  );
}

function sideAllows(
  policies: K8sObject[],
  self: Endpoint,
  other: Endpoint,
  connection: Connection,
  direction: 'Ingress' | 'Egress',
): boolean {
  if (self.namespace === undefined) return true;
  const selecting = policies.filter(
    (p) =>
      p.kind === 'NetworkPolicy' &&
      p.metadata.namespace === self.namespace &&
      policyTypes(p).includes(direction) &&
      selects(p.spec.podSelector, self.labels ?? {}),
  );
  if (selecting.length === 0) return true;
  const key = direction === 'Ingress' ? 'ingress' : 'egress';
  const peerKey = direction === 'Ingress' ? 'from' : 'to';
  return selecting.some((policy) =>
    (policy.spec[key] ?? []).some(
      (rule: K8sObject) =>
        portMatches(rule.ports, connection) &&
        peersMatch(rule[peerKey], other, policy.metadata.namespace),
    ),
  );
}

/** An omitted policyTypes means Ingress, plus Egress when the policy has egress rules. */
function policyTypes(policy: K8sObject): string[] {
  if (policy.spec.policyTypes) return policy.spec.policyTypes;
  return ['Ingress', ...(policy.spec.egress ? ['Egress'] : [])];
}

function portMatches(ports: K8sObject[] | undefined, connection: Connection): boolean {
  if (!ports || ports.length === 0) return true;
  const protocol = connection.protocol ?? 'TCP';
  return ports.some((p) => {
    if ((p.protocol ?? 'TCP') !== protocol) return false;
    if (p.port === undefined) return true;
    if (typeof p.port !== 'number') throw new Error(`named port ${p.port} is not evaluated`);
    return connection.port >= p.port && connection.port <= (p.endPort ?? p.port);
  });
}

function peersMatch(peers: K8sObject[] | undefined, other: Endpoint, namespace: string): boolean {
  if (!peers || peers.length === 0) return true;
  return peers.some((peer) => peerMatches(peer, other, namespace));
}

function peerMatches(peer: K8sObject, other: Endpoint, namespace: string): boolean {
  if (peer.ipBlock) {
    if (other.ip === undefined) return false;
    const except: string[] = peer.ipBlock.except ?? [];
    return inBlock(other.ip, peer.ipBlock.cidr) && !except.some((e) => inBlock(other.ip!, e));
  }
  if (other.namespace === undefined) return false;
  const namespaceOk = peer.namespaceSelector
    ? selects(peer.namespaceSelector, { 'kubernetes.io/metadata.name': other.namespace })
    : other.namespace === namespace;
  const podOk = peer.podSelector ? selects(peer.podSelector, other.labels ?? {}) : true;
  return namespaceOk && podOk;
}

/** A label selector: matchLabels and matchExpressions, all of which must hold. */
export function selects(selector: K8sObject | undefined, labels: Record<string, string>): boolean {
  if (!selector) return true;
  const byLabel = Object.entries(selector.matchLabels ?? {}).every(([k, v]) => labels[k] === v);
  const byExpression = (selector.matchExpressions ?? []).every((e: K8sObject) => {
    const has = e.key in labels;
    switch (e.operator) {
      case 'In':
        return has && e.values.includes(labels[e.key]);
      case 'NotIn':
        return !has || !e.values.includes(labels[e.key]);
      case 'Exists':
        return has;
      case 'DoesNotExist':
        return !has;
      default:
        throw new Error(`unknown selector operator ${e.operator}`);
    }
  });
  return byLabel && byExpression;
}

function inBlock(ip: string, cidr: string): boolean {
  const [address, prefix] = cidr.split('/');
  const version = isIP(address);
  if (version !== isIP(ip)) return false;
  const bits = version === 4 ? 32 : 128;
  const shift = BigInt(bits - Number(prefix));
  return bitsOf(ip) >> shift === bitsOf(address) >> shift;
}

function bitsOf(ip: string): bigint {
  if (isIP(ip) === 4) return ip.split('.').reduce((n, part) => (n << 8n) + BigInt(part), 0n);
  const [head, tail] = ip.includes('::') ? ip.split('::') : [ip, undefined];
  const front = head ? head.split(':') : [];
  const back = tail ? tail.split(':') : [];
  const fill = tail === undefined ? [] : Array(8 - front.length - back.length).fill('0');
  return [...front, ...fill, ...back].reduce((n, g) => (n << 16n) + BigInt(parseInt(g, 16)), 0n);
}

/** The pods a set of objects runs: one endpoint per Deployment, StatefulSet, Job or CronJob. */
export function podsOf(objects: K8sObject[]): Endpoint[] {
  return objects.flatMap((o) => {
    const template =
      o.kind === 'CronJob'
        ? o.spec.jobTemplate.spec.template
        : ['Deployment', 'StatefulSet', 'Job', 'DaemonSet'].includes(o.kind)
          ? o.spec.template
          : undefined;
    if (!template) return [];
    return [
      {
        name: `${o.kind}/${o.metadata.name}`,
        namespace: o.metadata.namespace,
        labels: template.metadata?.labels ?? {},
      },
    ];
  });
}

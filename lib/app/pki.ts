import * as fs from 'fs';
import { ApiObject, App, Chart, Duration } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import * as certmanager from '../../imports/cert-manager.io';
import { HarborConfig } from './config';
import { http01Solver } from './exposure';
import { CaBundleRef, SecretKeyRef } from '../harbor/common';
import { HarborTls } from '../harbor/ingress';
import { AcmeIssuer, AcmeSolver } from '../pki/acme-issuer';
import { MAX_CHAIN_BYTES, readCertificateChain } from '../pki/certificate-chain';
import { IssuerKind, IssuerRef, certManagerInstall, toIssuerRef } from '../pki/issuer-ref';
import { NodeTrust, RancherDistribution } from '../pki/node-trust';
import { SelfSignedCa } from '../pki/self-signed-ca';
import { TrustBundle, TrustSource } from '../pki/trust-bundle';
import { VaultIssuer } from '../pki/vault-issuer';
import { VaultCaBundle, VaultPkiKeyType, VaultPkiSetup } from '../pki/vault-pki-setup';
import { VaultServer } from '../pki/vault-server';
import { hoursOf } from '../private/checks';
import { Problems, show } from '../private/validation';
import { clusterScoped } from '../private/workload';

/** What Harbor needs of the TLS chain the app set up. */
export interface PkiResult {
  readonly tls: HarborTls;
  /** What Harbor's pods trust besides the public roots. */
  readonly caBundle?: CaBundleRef;
  /** The charts Harbor's chart must come after. */
  readonly charts: Chart[];
  /** Charts that run beside Harbor, such as the node trust DaemonSet. */
  readonly companions: Chart[];
  readonly selfSignedCa?: SelfSignedCa;
  readonly vaultServer?: VaultServer;
  readonly trustBundle?: TrustBundle;
  readonly nodeTrust?: NodeTrust;
}

type Vault = Extract<HarborConfig['tls'], { type: 'vault' }>;
type Acme = Extract<HarborConfig['tls'], { type: 'acme' }>;

const KEY_TYPES: Record<string, VaultPkiKeyType> = {
  'ec-256': VaultPkiKeyType.EC_256,
  'ec-384': VaultPkiKeyType.EC_384,
  'rsa-2048': VaultPkiKeyType.RSA_2048,
  'rsa-4096': VaultPkiKeyType.RSA_4096,
};

function bundleName(config: HarborConfig): string {
  return config.trust?.bundleName ?? `${config.instance}-ca`;
}

/** `host[:port]` of the registry an image reference or mirror names, without port 443. */
function registryOf(reference: string): string | undefined {
  const first = reference.split('/')[0];
  return /[.:]/.test(first) || first === 'localhost' ? first.replace(/:443$/, '') : undefined;
}

/**
 * Internal TLS needs certificates for Service names (field failure #16): an ACME CA cannot
 * validate them, and the Vault role the setup Job writes allows Harbor's host alone.
 */
function checkInternalIssuer(config: HarborConfig, problems: Problems): void {
  const internal = config.internalTls?.enabled ? config.internalTls.issuer : undefined;
  const tls = config.tls;
  if (!internal || (tls.type !== 'acme' && tls.type !== 'vault')) return;
  const own = tls.type === 'acme' ? `${config.instance}-acme` : `${config.instance}-vault`;
  const sameKind = (internal.kind ?? IssuerKind.ISSUER) === (tls.issuerKind ?? IssuerKind.ISSUER);
  const refuses = tls.type === 'acme' || tls.setup !== undefined;
  const why =
    tls.type === 'acme'
      ? 'ACME issuer of tls, whose CA validates'
      : 'Vault issuer of tls, whose role allows';
  problems.check(
    internal.name !== own || !sameKind || !refuses,
    'internalTls.issuer.name',
    `${show(internal.name)} is the ${why} only ${show(config.host)}: it cannot issue the` +
      ` components' certificates for Service names such as ${show(`${config.instance}-core`)};` +
      ' remove internalTls.issuer for a CA of internal TLS alone',
  );
}

/**
 * Nothing this configuration runs may pull from the Harbor it deploys: Harbor is not there
 * before its own pods, Vault and the nodes' trust are.
 */
function checkImagesOutsideHarbor(config: HarborConfig, problems: Problems): void {
  const harbor = config.port && config.port !== 443 ? `${config.host}:${config.port}` : config.host;
  const images: Array<[string, string | undefined]> = [
    ['images.registry', config.images.registry],
    ['trust.nodes.image', config.trust?.nodes?.image],
    [
      'tls.inClusterServer.image',
      config.tls.type === 'vault' ? config.tls.inClusterServer?.image : undefined,
    ],
  ];
  for (const [field, image] of images) {
    problems.check(
      image === undefined || registryOf(image) !== harbor,
      field,
      `${show(image)} is on ${harbor}, the Harbor this configuration deploys, which cannot serve` +
        ' the images it needs to start and to be trusted; use another registry or mirror',
    );
  }
}

/** Namespaces that exist in every cluster. */
const CLUSTER_NAMESPACES = ['default', 'kube-system', 'kube-public', 'kube-node-lease'];

/**
 * Who owns each namespace the configuration names already, so that no namespace this app
 * creates is one that belongs to something else or is created twice with other labels.
 */
function ownersOf(config: HarborConfig): Map<string, string> {
  const install = certManagerInstall(config.certManager);
  const owners = new Map<string, string>();
  const own = (namespace: string | undefined, owner: string) => {
    if (namespace !== undefined && !owners.has(namespace)) owners.set(namespace, owner);
  };
  own(install.namespace, "cert-manager's namespace");
  own(install.clusterResourceNamespace, "cert-manager's cluster resource namespace");
  own(config.trust?.trustNamespace ?? 'cert-manager', "trust-manager's trust namespace");
  if ('namespace' in config.nfs) own(config.nfs.namespace, "the NFS driver's namespace");
  for (const namespace of CLUSTER_NAMESPACES) own(namespace, 'a namespace every cluster has');
  return owners;
}

/** Records a problem when a namespace this app would create belongs to something else. */
function checkOwnNamespace(
  problems: Problems,
  owners: Map<string, string>,
  field: string,
  namespace: string,
  purpose: string,
): void {
  const owner = owners.get(namespace);
  if (owner) {
    problems.add(
      field,
      `${show(namespace)} is ${owner}; give ${purpose} a namespace of its own, which this` +
        ' configuration creates and labels',
    );
  } else owners.set(namespace, `the namespace ${field} names`);
}

/**
 * The issuers, the Vault server and PKI setup, the trust bundle and the node trust a
 * configuration asks for, each in a chart that comes after `base`. Problems are recorded.
 */
export function buildPki(
  app: App,
  config: HarborConfig,
  base: Chart,
  nfsStorageClasses: string[],
  problems: Problems,
): PkiResult | undefined {
  const tlsConfig = config.tls;
  const install = certManagerInstall(config.certManager);
  const trust = config.trust;
  const trustNamespace = trust?.trustNamespace ?? 'cert-manager';
  const charts: Chart[] = [];
  const options =
    tlsConfig.type === 'secret'
      ? {}
      : { duration: tlsConfig.duration, renewBefore: tlsConfig.renewBefore };
  const sources: TrustSource[] = [];
  checkImagesOutsideHarbor(config, problems);
  checkInternalIssuer(config, problems);
  const owners = ownersOf(config);
  const taken = owners.get(config.namespace);
  // the NFS driver's namespace is refused by the storage checks already
  problems.check(
    taken === undefined ||
      CLUSTER_NAMESPACES.includes(config.namespace) ||
      ('namespace' in config.nfs && config.nfs.namespace === config.namespace),
    'namespace',
    `${show(config.namespace)} is ${taken}; give Harbor a namespace of its own`,
  );
  owners.set(config.namespace, "Harbor's namespace");

  // the issuers get a file of their own only when there are any, so no file is ever empty
  let pki: Chart | undefined;
  const pkiChart = (): Chart => {
    if (pki) return pki;
    pki = new Chart(app, 'pki', { namespace: config.namespace, disableResourceNameHashes: true });
    pki.addDependency(charts[charts.length - 1] ?? base);
    charts.push(pki);
    return pki;
  };

  let tls: HarborTls | undefined;
  let selfSignedCa: SelfSignedCa | undefined;
  let vaultServer: VaultServer | undefined;
  let ownCa: SecretKeyRef | undefined;
  switch (tlsConfig.type) {
    case 'selfSigned': {
      const kind = (tlsConfig.issuerKind ??
        (trust ? IssuerKind.CLUSTER_ISSUER : IssuerKind.ISSUER)) as IssuerKind;
      if (trust) {
        problems.check(
          kind === IssuerKind.CLUSTER_ISSUER,
          'tls.issuerKind',
          `"Issuer" keeps the CA in Harbor's namespace, where trust-manager cannot read it; use` +
            ' "ClusterIssuer", or set trust to null',
        );
        problems.check(
          install.clusterResourceNamespace === trustNamespace,
          'trust.trustNamespace',
          `${show(trustNamespace)} is not cert-manager's cluster resource namespace` +
            ` ${show(install.clusterResourceNamespace)}, where the CA's Secret is; trust-manager` +
            ' reads sources only in its own namespace',
        );
      }
      const caHours = hoursOf(tlsConfig.ca?.duration ?? '87600h');
      const leafHours = hoursOf(tlsConfig.duration ?? '2160h');
      problems.check(
        caHours === undefined || leafHours === undefined || caHours > leafHours,
        'tls.ca.duration',
        `${show(tlsConfig.ca?.duration)} is not longer than tls.duration` +
          ` ${show(tlsConfig.duration ?? '2160h')}; cert-manager never renews the CA, so its` +
          ' certificates would outlive it: make the CA last longer',
      );
      const name = `${config.instance}-ca`;
      selfSignedCa = problems.capture(
        'tls.ca.',
        () =>
          new SelfSignedCa(pkiChart(), 'SelfSignedCa', {
            name,
            commonName: tlsConfig.ca?.commonName,
            organization: tlsConfig.ca?.organization,
            duration: tlsConfig.ca?.duration,
            kind,
            certManager: config.certManager,
          }),
      );
      if (!selfSignedCa) return undefined;
      tls = HarborTls.fromIssuer(selfSignedCa.issuer, options);
      sources.push({ kind: 'Secret', ...selfSignedCa.caBundle });
      if (kind === IssuerKind.ISSUER) ownCa = selfSignedCa.caBundle;
      break;
    }
    case 'vault': {
      const built = buildVault(app, config, tlsConfig, base, charts, pkiChart, problems, {
        nfsStorageClasses,
        trustNamespace,
        owners,
      });
      if (!built) return undefined;
      vaultServer = built.server;
      tls = HarborTls.fromIssuer(built.issuer, options);
      if (built.rootCa) sources.push(built.rootCa);
      else if (trust) {
        problems.add(
          'tls.rootCa',
          'root CA bundle required: without tls.setup nothing publishes the root, and the' +
            " issued Secrets' ca.crt is not a trust anchor; name the ConfigMap in" +
            ` ${show(trustNamespace)} that holds the root, or add tls.setup`,
        );
      }
      break;
    }
    case 'acme': {
      const issuer = buildAcme(config, tlsConfig, pkiChart(), problems);
      if (!issuer) return undefined;
      tls = HarborTls.fromIssuer(issuer, options);
      break;
    }
    case 'issuer':
      tls = HarborTls.fromIssuer(
        {
          name: tlsConfig.name,
          kind: tlsConfig.kind as IssuerKind | undefined,
          maxDuration: tlsConfig.maxDuration,
        },
        options,
      );
      break;
    case 'secret':
      tls = HarborTls.fromSecret(tlsConfig.secretName);
      if (tlsConfig.chainFile) checkChain(config, tlsConfig, problems);
      else {
        problems.check(
          tlsConfig.rootsFile === undefined,
          'tls.rootsFile',
          'checks tls.chainFile, which is not set; name the public chain file or remove rootsFile',
        );
      }
      break;
  }

  for (const source of trust?.extraSources ?? []) sources.push(source);
  if (tlsConfig.type === 'secret' && tlsConfig.rootsFile && trust?.nodes && sources.length === 0) {
    problems.add(
      'trust.nodes',
      `tls.rootsFile names a private root, which the nodes do not trust yet; publish it as a` +
        ` ConfigMap in ${show(trustNamespace)} and name it in trust.extraSources, or set` +
        ' trust.nodes to null if the nodes trust it already',
    );
  }
  let trustBundle: TrustBundle | undefined;
  let nodeTrust: NodeTrust | undefined;
  const companions: Chart[] = [];
  // a public CA needs no distribution: nodes and clients trust it already
  if (trust && sources.length > 0) {
    const name = bundleName(config);
    problems.check(
      name === `${config.instance}-ca` || !name.startsWith(`${config.instance}-`),
      'trust.bundleName',
      `${show(name)} starts with ${show(`${config.instance}-`)}, the prefix of the ConfigMaps` +
        ` Harbor and node trust write themselves; keep ${show(`${config.instance}-ca`)} or` +
        ' choose a name without that prefix',
    );
    trustBundle = problems.capture(
      'trust.',
      () => new TrustBundle(pkiChart(), 'TrustBundle', { name: bundleName(config), sources }),
      { name: 'trust.bundleName', sources: 'trust.extraSources' },
    );
    problems.check(
      config.caBundle === undefined,
      'caBundle',
      `Harbor trusts the bundle ${show(bundleName(config))}, which trust-manager writes into its` +
        ' namespace; add this CA to trust.extraSources (a ConfigMap or Secret in' +
        ` ${show(trustNamespace)}) and remove caBundle, or set trust to null`,
    );
  }
  if (trust?.nodes && trustBundle) {
    nodeTrust = buildNodeTrust(
      app,
      config,
      trust.nodes,
      trustBundle,
      charts,
      base,
      owners,
      problems,
    );
    if (nodeTrust) companions.push(Chart.of(nodeTrust));
  }

  problems.check(
    ownCa === undefined || config.caBundle === undefined,
    'caBundle',
    'with tls.type selfSigned Harbor trusts the self-signed root; remove caBundle or choose' +
      ' tls.type issuer or secret',
  );
  const caBundle: CaBundleRef | undefined = trustBundle?.ref ?? ownCa ?? config.caBundle;
  return {
    tls: tls!,
    caBundle,
    charts,
    companions,
    selfSignedCa,
    vaultServer,
    trustBundle,
    nodeTrust,
  };
}

type Provided = Extract<HarborConfig['tls'], { type: 'secret' }>;

/**
 * Checks the public chain of a provided certificate, as its Secret's `tls.crt` holds it: leaf
 * first, every intermediate, ending at a root the clients trust, valid for the host.
 */
function checkChain(config: HarborConfig, provided: Provided, problems: Problems): void {
  let roots: string[] | undefined;
  if (provided.rootsFile) {
    try {
      const stat = fs.statSync(provided.rootsFile);
      if (!stat.isFile() || stat.size > MAX_CHAIN_BYTES) {
        problems.add(
          'tls.rootsFile',
          `${show(provided.rootsFile)} is not a PEM file of at most 1 MiB`,
        );
        return;
      }
      const text = fs.readFileSync(provided.rootsFile, 'utf-8');
      if (/-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/.test(text)) {
        problems.add(
          'tls.rootsFile',
          `${show(provided.rootsFile)} holds a private key; it is for Git and must hold only the` +
            ' root certificates: remove the key, and rotate it if it was ever shared',
        );
        return;
      }
      roots = text.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ?? [];
      problems.check(
        roots.length > 0,
        'tls.rootsFile',
        `${show(provided.rootsFile)} holds no PEM certificate; name the file of the root CA`,
      );
    } catch (err) {
      problems.add('tls.rootsFile', `cannot be read: ${(err as Error).message}`);
      return;
    }
  }
  problems.addAll(
    readCertificateChain(
      provided.chainFile!,
      { host: config.host, port: config.port, roots, rootsField: 'tls.rootsFile' },
      'tls.chainFile',
    ),
  );
}

/** The Vault issuer, with the in-cluster server and the PKI setup when asked for. */
function buildVault(
  app: App,
  config: HarborConfig,
  vault: Vault,
  base: Chart,
  charts: Chart[],
  pkiChart: () => Chart,
  problems: Problems,
  context: { nfsStorageClasses: string[]; trustNamespace: string; owners: Map<string, string> },
): { issuer: IssuerRef; server?: VaultServer; rootCa?: TrustSource } | undefined {
  const inCluster = vault.inClusterServer;
  const kind = (vault.issuerKind ?? IssuerKind.ISSUER) as IssuerKind;
  const install = certManagerInstall(config.certManager);
  const issuerNamespace =
    kind === IssuerKind.ISSUER ? config.namespace : install.clusterResourceNamespace;
  problems.check(
    (vault.server === undefined) !== (inCluster === undefined),
    'tls',
    'needs exactly one of server (a Vault that exists) and inClusterServer (a Vault this' +
      ' configuration runs); for an existing Vault set inClusterServer to null',
  );
  if (inCluster) {
    problems.check(
      vault.setup !== undefined,
      'tls.setup',
      'is null, but a new in-cluster Vault has no PKI and no Kubernetes auth until the setup' +
        ' Job makes them; keep tls.setup',
    );
    problems.check(
      vault.serverCa === undefined,
      'tls.serverCa',
      "is the in-cluster server's own CA already; remove it",
    );
  }
  problems.check(
    vault.setup === undefined || vault.setup.credentials !== undefined || inCluster !== undefined,
    'tls.setup.credentials',
    'is missing; name the Secret key with a Vault token that may mount, tune and write roles,' +
      ' policies and auth (the in-cluster server alone provides its own)',
  );

  const configure = vault.setup?.configureKubernetesAuth ?? inCluster !== undefined;
  problems.check(
    vault.setup?.kubernetesHost === undefined || configure,
    'tls.setup.kubernetesHost',
    'is only written with tls.setup.configureKubernetesAuth true; set that, or remove it',
  );
  let server: VaultServer | undefined;
  let vaultChart: Chart | undefined;
  let listenerIssuer: IssuerRef | undefined;
  if (inCluster) {
    const namespace = inCluster.namespace ?? 'vault';
    checkOwnNamespace(
      problems,
      context.owners,
      'tls.inClusterServer.namespace',
      namespace,
      'Vault',
    );
    vaultChart = new Chart(app, 'vault', { namespace, disableResourceNameHashes: true });
    vaultChart.addDependency(base);
    charts.push(vaultChart);
    const ns = new kplus.Namespace(vaultChart, 'Namespace', {
      metadata: {
        name: namespace,
        labels: { 'pod-security.kubernetes.io/enforce': 'restricted' },
      },
    });
    clusterScoped(ApiObject.of(ns));
    // Vault cannot issue its own listener certificate: cert-manager's CA does
    const listenerCa = problems.capture(
      'tls.inClusterServer.',
      () =>
        new SelfSignedCa(vaultChart!, 'ListenerCa', {
          name: `${config.instance}-vault-tls-ca`,
          commonName: `${config.instance} Vault listener CA`,
          kind: IssuerKind.CLUSTER_ISSUER,
          certManager: config.certManager,
        }),
    );
    if (!listenerCa) return undefined;
    listenerIssuer = listenerCa.issuer;
    server = problems.capture(
      'tls.inClusterServer.',
      () =>
        new VaultServer(vaultChart!, 'VaultServer', {
          name: `${config.instance}-vault`,
          namespace,
          storage: inCluster.storage,
          issuer: listenerCa.issuer,
          nfsStorageClasses: context.nfsStorageClasses,
          image: inCluster.image,
          ui: inCluster.ui,
          images: { registry: config.images.registry },
        }),
      { name: 'instance', images: 'images' },
    );
    if (!server) return undefined;
  }

  const address = server?.address ?? vault.server!;
  const chart = pkiChart();
  let issuerCa: SecretKeyRef | undefined = vault.serverCa;
  if (server) {
    // the issuer reads Vault's CA from a Secret of its own namespace: any certificate of the
    // listener CA carries that CA as ca.crt
    const secretName = `${config.instance}-vault-ca`;
    new certmanager.Certificate(chart, 'VaultCa', {
      metadata: { name: secretName, namespace: issuerNamespace },
      spec: {
        secretName,
        commonName: `${config.instance} Vault CA holder`,
        dnsNames: [`${secretName}.${issuerNamespace}.invalid`],
        duration: '8760h',
        privateKey: { algorithm: certmanager.CertificateSpecPrivateKeyAlgorithm.ECDSA, size: 256 },
        issuerRef: toIssuerRef(listenerIssuer!),
      },
    });
    issuerCa = { name: secretName, key: 'ca.crt' };
  }
  const issuer = problems.capture(
    'tls.',
    () =>
      new VaultIssuer(chart, 'VaultIssuer', {
        name: `${config.instance}-vault`,
        kind,
        server: address,
        caBundle: issuerCa,
        mount: vault.mount,
        role: vault.role,
        maxDuration: vault.maxDuration,
        auth: vault.auth,
        certManager: config.certManager,
      }),
    { name: 'instance', caBundle: 'tls.serverCa' },
  );
  if (!issuer) return undefined;

  let rootCa: TrustSource | undefined = vault.rootCa && { kind: 'ConfigMap', ...vault.rootCa };
  const setup = vault.setup;
  if (setup) {
    const rootCaName = `${config.instance}-vault-root-ca`;
    // the in-cluster server's init Job keeps its root token in a Secret beside it
    const credentials: SecretKeyRef | undefined =
      setup.credentials ?? (server && { name: server.initSecretName, key: 'root-token' });
    const setupChart = vaultChart ?? chart;
    const caBundle = server
      ? VaultCaBundle.fromSecret(server.caBundle)
      : vault.serverCa && VaultCaBundle.fromSecret(vault.serverCa);
    const [mount, role] = issuer.path.split('/sign/');
    if (!credentials) return undefined;
    problems.capture(
      'tls.setup.',
      () =>
        new VaultPkiSetup(setupChart, 'VaultPkiSetup', {
          name: `${config.instance}-vault-pki-setup`,
          server: address,
          caBundle,
          credentials,
          rootMount: setup.rootMount,
          intermediateMount: mount,
          roleName: role,
          rootCommonName: setup.rootCommonName,
          intermediateCommonName: setup.intermediateCommonName,
          organization: setup.organization,
          rootTtl: setup.rootTtl,
          intermediateTtl: setup.intermediateTtl,
          maxTtl: issuer.issuer.maxDuration,
          // the role's default lifetime, for requests that name none; cert-manager names one
          ttl: shorter(issuer.issuer.maxDuration!, '720h'),
          keyType: setup.keyType ? KEY_TYPES[setup.keyType] : undefined,
          allowedDomains: [config.host],
          allowSubdomains: setup.allowSubdomains,
          kubernetesAuth: {
            mountPath: issuer.login.mountPath,
            roleName: issuer.login.role,
            serviceAccountName: issuer.login.serviceAccountName,
            serviceAccountNamespace: issuer.login.serviceAccountNamespace,
            audience: issuer.login.audience,
            configure: configure ? { kubernetesHost: setup.kubernetesHost } : undefined,
          },
          rootCaConfigMap: { name: rootCaName, namespace: context.trustNamespace },
          images: { registry: config.images.registry },
        }),
      {
        server: 'tls.server',
        caBundle: 'tls.serverCa',
        intermediateMount: 'tls.mount',
        roleName: 'tls.role',
        maxTtl: 'tls.maxDuration',
        allowedDomains: 'host',
        'kubernetesAuth.mountPath': 'tls.auth.mountPath',
        'kubernetesAuth.roleName': 'tls.auth.role',
        'kubernetesAuth.configure.kubernetesHost': 'tls.setup.kubernetesHost',
        'rootCaConfigMap.namespace': 'trust.trustNamespace',
        images: 'images',
      },
    );
    rootCa ??= { kind: 'ConfigMap', name: rootCaName };
  }
  return { issuer: issuer.issuer, server, rootCa };
}

function buildAcme(
  config: HarborConfig,
  acme: Acme,
  chart: Chart,
  problems: Problems,
): IssuerRef | undefined {
  problems.check(
    acme.http01 === undefined || acme.dns01 === undefined,
    'tls',
    'takes one of http01 and dns01; HTTP-01 needs the host reachable from the ACME server on' +
      ' port 80, DNS-01 works for private hosts',
  );
  const solver = acme.dns01
    ? AcmeSolver.dns01Rfc2136(acme.dns01.rfc2136)
    : http01Solver(config, acme);
  const issuer = problems.capture(
    'tls.',
    () =>
      new AcmeIssuer(chart, 'AcmeIssuer', {
        name: `${config.instance}-acme`,
        kind: (acme.issuerKind ?? IssuerKind.ISSUER) as IssuerKind,
        server: acme.server,
        email: acme.email,
        solver,
        externalAccountBinding: acme.externalAccountBinding,
      }),
    {
      name: 'instance',
      'dns01.nameserver': 'tls.dns01.rfc2136.nameserver',
      'dns01.tsigKeyName': 'tls.dns01.rfc2136.tsigKeyName',
      'dns01.tsigSecret': 'tls.dns01.rfc2136.tsigSecret',
      'dns01.tsigAlgorithm': 'tls.dns01.rfc2136.tsigAlgorithm',
    },
  );
  return issuer?.issuer;
}

type NodesConfig = NonNullable<NonNullable<HarborConfig['trust']>['nodes']>;

/** The DaemonSet that writes the CA onto every node, in a privileged namespace of its own. */
function buildNodeTrust(
  app: App,
  config: HarborConfig,
  nodes: NodesConfig,
  bundle: TrustBundle,
  charts: Chart[],
  base: Chart,
  owners: Map<string, string>,
  problems: Problems,
): NodeTrust | undefined {
  const namespace = nodes.namespace ?? `${config.instance}-node-trust`;
  // privileged: it must share its namespace with nothing
  checkOwnNamespace(
    problems,
    owners,
    'trust.nodes.namespace',
    namespace,
    'the node trust DaemonSet',
  );
  const chart = new Chart(app, 'node-trust', { namespace, disableResourceNameHashes: true });
  chart.addDependency(charts[charts.length - 1] ?? base);
  const ns = new kplus.Namespace(chart, 'Namespace', {
    metadata: {
      name: namespace,
      // writing into the nodes' /etc needs host paths and root
      labels: { 'pod-security.kubernetes.io/enforce': 'privileged', ...bundle.namespaceLabels },
    },
  });
  clusterScoped(ApiObject.of(ns));
  const interval = nodes.interval === undefined ? undefined : intervalOf(nodes.interval, problems);
  return problems.capture(
    'trust.nodes.',
    () =>
      new NodeTrust(chart, 'NodeTrust', {
        name: `${config.instance}-node-trust`,
        namespace,
        host: config.host,
        port: config.port,
        caConfigMap: bundle.ref.name,
        caKey: bundle.ref.key,
        // k3s and RKE2 run a containerd of their own that reads neither certs.d directory
        containerd: {
          enabled: nodes.containerd ?? (nodes.rancher ? false : undefined),
          certsDir: nodes.containerdCertsDir,
          checkConfig: nodes.containerdConfigCheck,
        },
        docker: {
          enabled: nodes.docker ?? (nodes.rancher ? false : undefined),
          certsDir: nodes.dockerCertsDir,
        },
        rancher: nodes.rancher ? { distribution: nodes.rancher as RancherDistribution } : undefined,
        interval,
        image: nodes.image,
        images: { registry: config.images.registry },
      }),
    {
      'containerd.enabled, docker.enabled, rancher':
        'trust.nodes.containerd, trust.nodes.docker, trust.nodes.rancher',
      'containerd.enabled': 'trust.nodes.containerd',
      'containerd.certsDir': 'trust.nodes.containerdCertsDir',
      'containerd.checkConfig': 'trust.nodes.containerdConfigCheck',
      'docker.enabled': 'trust.nodes.docker',
      'docker.certsDir': 'trust.nodes.dockerCertsDir',
      images: 'images',
      host: 'host',
      port: 'port',
      name: 'instance',
      caConfigMap: 'trust.bundleName',
    },
  );
}

function intervalOf(value: string, problems: Problems): Duration | undefined {
  const match = /^(\d{1,6})(s|m|h)$/.exec(value);
  const seconds = match ? Number(match[1]) * { s: 1, m: 60, h: 3600 }[match[2] as 's'] : NaN;
  if (!(seconds >= 10 && seconds <= 86400)) {
    problems.add(
      'trust.nodes.interval',
      `${show(value)} is not a pause from 10 seconds to a day; use seconds, minutes or hours` +
        ' ("300s", "5m", "1h")',
    );
    return undefined;
  }
  return Duration.seconds(seconds);
}

/** The shorter of two durations of the `2160h` form. */
function shorter(a: string, b: string): string {
  return (hoursOf(a) ?? Infinity) <= (hoursOf(b) ?? Infinity) ? a : b;
}

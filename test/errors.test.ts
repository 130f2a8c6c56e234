import * as fs from 'fs';
import * as path from 'path';
import { synthApp } from './support/synth';

/**
 * The catalogue of clear errors: every way a configuration file can contradict itself or
 * Harbor's rules, each with an override that makes it and the message line it must print.
 * The README's "### Errors" section lists the same (field, problem) rows, area by area.
 */
interface Entry {
  /** The README table the entry is listed in. */
  readonly area: string;
  /** The setting, as the user writes it; `[i]` stands for any position in a list. */
  readonly field: string;
  /** Short words for the README. */
  readonly problem: string;
  /** What to do, for the README. */
  readonly fix: string;
  /** Laid over the built-in profile, as a configuration file is. */
  readonly override: Record<string, unknown>;
  /** A stable fragment of the message line: the field path, then the value or the fix. */
  readonly message: RegExp;
}

type Row = Omit<Entry, 'area'>;

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A message line for `field` that contains `fragment`. */
function line(field: string, fragment: string): RegExp {
  return new RegExp(`^  - ${escape(field)}: .*${escape(fragment)}`, 'm');
}

function row(
  field: string,
  problem: string,
  fix: string,
  override: Record<string, unknown>,
  message: RegExp,
): Row {
  return { field, problem, fix, override, message };
}

const EXTERNAL_DB = {
  type: 'external',
  host: 'pg.example.test',
  password: { name: 'harbor-db', key: 'password' },
};
const EXTERNAL_REDIS = { type: 'external', host: 'redis.example.test' };
const ACME = {
  type: 'acme',
  server: 'https://acme.example.test/directory',
  email: 'ops@example.test',
};
const EXTERNAL_VAULT = {
  inClusterServer: null,
  server: 'https://vault.example.test:8200',
  setup: { credentials: { name: 'vault-token', key: 'token' } },
};
const GATEWAY = {
  exposure: { type: 'gatewayApi', gateway: { name: 'gw', namespace: 'gateways' } },
  ingressClassName: null,
};
const EXPORT = { server: 'nfs.example.test', share: '/exports/harbor', squash: 'root_squash' };
const DNS01 = { rfc2136: { nameserver: '10.0.0.53' } };
const HA = { highAvailability: true, database: EXTERNAL_DB, redis: EXTERNAL_REDIS };
/** The settings of one project robot `ci` on `apps`, with these fields. */
const ciRobot = (fields: Record<string, unknown>) => ({
  settings: { robots: [{ name: 'ci', level: { project: 'apps' }, ...fields }] },
});

const policies = (options: Record<string, unknown>) => ({
  networkPolicies: { enabled: true, ...options },
});
const egress = (cidrs: string[], ports: number[]) =>
  policies({ externalEgress: [{ cidrs, ports }] });

const AREAS: Record<string, Row[]> = {
  'form of the file': [
    row(
      'any key',
      'unknown key',
      'remove it or check its spelling',
      { hostname: 'harbor.example.test' },
      line('hostname', 'unknown key; remove it or check its spelling'),
    ),
    row(
      'a key of a typed section',
      'not a setting of the section with that type',
      'remove it or change the type',
      { tls: { chainFile: 'chain.pem' } },
      line('tls.chainFile', 'is not a setting of tls with type "vault"; remove it or change'),
    ),
    row(
      'a closed set',
      'value outside the set',
      'use one of the listed values',
      { logLevel: 'verbose' },
      line('logLevel', '"verbose" is not allowed; use one of "debug", "info"'),
    ),
    row(
      'a type switch',
      'unknown type',
      'use one of the listed types',
      { tls: { type: 'letsencrypt' } },
      line('tls.type', '"letsencrypt" is not allowed; use one of "selfSigned", "vault"'),
    ),
    row(
      'a version-like choice',
      'number where the set holds text',
      'write it in quotes',
      { nfs: { export: { version: 4.1 } } },
      line('nfs.export.version', '(write it in quotes: "4.1")'),
    ),
    row(
      'a true/false setting',
      'text instead of true or false',
      'write true or false',
      { ipv6: 'yes' },
      line('ipv6', '"yes" is text; expected true or false'),
    ),
    row(
      'a list setting',
      'single value instead of a list',
      'write a list',
      { nfsStorageClasses: 'nfs-csi' },
      line('nfsStorageClasses', '"nfs-csi" is text; expected a list'),
    ),
    row(
      'a section',
      'value instead of a mapping',
      'write a mapping of its settings',
      { registryStorage: 'nfs-csi' },
      line('registryStorage', '"nfs-csi" is text; expected a mapping'),
    ),
    row(
      'a required setting',
      'missing',
      'set it',
      { tls: { type: 'issuer' } },
      line('tls.name', 'is missing; expected text'),
    ),
    row(
      'a Secret reference',
      'not a mapping with name and key',
      'write name and key',
      { redis: { ...EXTERNAL_REDIS, password: 'hunter2' } },
      line('redis.password', 'must be a Secret reference: a mapping with name and key'),
    ),
  ],
  general: [
    row(
      'instance',
      'not a short DNS label',
      'lowercase letters, digits and -, at most 30',
      { instance: 'Harbor_1' },
      line('instance', '"Harbor_1" is not a short DNS label'),
    ),
    row(
      'namespace',
      'not a DNS label',
      'lowercase letters, digits and -',
      { namespace: 'Bad_NS' },
      line('namespace', '"Bad_NS" is not a DNS label'),
    ),
    row(
      'host',
      'not a DNS name',
      'a lowercase name like registry.example.test',
      { host: 'not a host' },
      line('host', '"not a host" is not a DNS name'),
    ),
    row(
      'host',
      'includes a port',
      'give the port in port',
      { host: 'harbor.example.test:8443' },
      line('host', '"harbor.example.test:8443" includes a port; give the host name alone'),
    ),
    row(
      'port',
      'not a TCP port',
      'a whole number from 1 to 65535',
      { port: 70000 },
      line('port', '70000 is not a TCP port'),
    ),
    row(
      'images.version',
      'not a Harbor 2.x release tag',
      'a tag like v2.15.2',
      { images: { version: 'latest' } },
      line('images.version', '"latest" is not a Harbor 2.x release tag'),
    ),
    row(
      'images.registry',
      'not a registry host and path',
      'host[/path], without scheme or tag',
      { images: { registry: 'https://mirror.example.test' } },
      line('images.registry', '"https://mirror.example.test" is not a registry host'),
    ),
    row(
      'images.registry',
      'the Harbor being deployed',
      'another registry or mirror',
      { images: { registry: 'harbor.example.test/mirror' } },
      line('images.registry', 'is on harbor.example.test, the Harbor this configuration deploys'),
    ),
    row(
      'nfsStorageClasses[i]',
      'not a Kubernetes object name',
      'lowercase letters, digits, - and .',
      { nfsStorageClasses: ['Bad_Name'] },
      line('nfsStorageClasses[0]', '"Bad_Name" is not a Kubernetes object name'),
    ),
    row(
      'existingSecrets.*.key',
      'not a Secret key',
      "letters, digits, '-', '_' and '.'",
      { existingSecrets: { secretKey: { name: 'harbor-keys', key: 'bad key!' } } },
      line('existingSecrets.secretKey.key', '"bad key!" is not a Secret key'),
    ),
    row(
      'existingSecrets.registryCredentials',
      'not a Kubernetes object name',
      'a Secret name',
      { existingSecrets: { registryCredentials: 'Bad_Name' } },
      line('existingSecrets.registryCredentials', '"Bad_Name" is not a Kubernetes object name'),
    ),
    row(
      'existingSecrets.databasePassword',
      'set with an external database',
      'name it in database.password',
      {
        database: EXTERNAL_DB,
        existingSecrets: { databasePassword: { name: 'harbor-db', key: 'password' } },
      },
      line('existingSecrets.databasePassword', 'names its password in database.password'),
    ),
    row(
      'caBundle',
      'set while trust-manager delivers the bundle',
      'add the CA to trust.extraSources, or set trust to null',
      { caBundle: { name: 'corp-ca', key: 'ca.crt' } },
      line('caBundle', 'add this CA to trust.extraSources'),
    ),
    row(
      'caBundle',
      'set with tls.type selfSigned',
      'remove caBundle',
      { tls: { type: 'selfSigned' }, trust: null, caBundle: { name: 'corp-ca', key: 'ca.crt' } },
      line('caBundle', 'with tls.type selfSigned Harbor trusts the self-signed root; remove'),
    ),
    row(
      'certManager.namespace',
      'not a DNS label',
      'the namespace cert-manager runs in',
      { certManager: { namespace: 'Cert_Manager' } },
      line('certManager.namespace', '"Cert_Manager" is not a DNS label'),
    ),
  ],
  tls: [
    row(
      'tls.duration',
      'shorter than 1h',
      'at least 1h',
      { tls: { duration: '30m' } },
      line('tls.duration', '"30m" is shorter than 1h'),
    ),
    row(
      'tls.duration',
      'not a duration',
      'hours ("2160h") or minutes',
      { tls: { duration: '90d' } },
      line('tls.duration', '"90d" is not a duration; use whole hours'),
    ),
    row(
      'tls.renewBefore',
      'shorter than 5m',
      'at least 5m',
      { tls: { renewBefore: '1m' } },
      line('tls.renewBefore', '"1m" is shorter than 5m'),
    ),
    row(
      'tls.renewBefore',
      'not shorter than tls.duration',
      'renew well before expiry',
      { tls: { duration: '720h', renewBefore: '720h' } },
      line('tls.renewBefore', '"720h" is not shorter than tls.duration "720h"'),
    ),
    row(
      'tls.duration',
      "longer than the issuer's limit",
      'ask for less or raise tls.maxDuration',
      { tls: { duration: '4000h' } },
      line('tls.duration', '"4000h" exceeds the longest lifetime issuer "harbor-vault" grants'),
    ),
    row(
      'tls.issuerKind',
      'Issuer for a self-signed CA that trust-manager must read',
      'ClusterIssuer, or trust: null',
      { tls: { type: 'selfSigned', issuerKind: 'Issuer' } },
      line('tls.issuerKind', 'where trust-manager cannot read it; use "ClusterIssuer"'),
    ),
    row(
      'tls.ca.duration',
      'not longer than tls.duration',
      'make the CA last longer',
      { tls: { type: 'selfSigned', duration: '2160h', ca: { duration: '2000h' } } },
      line('tls.ca.duration', '"2000h" is not longer than tls.duration "2160h"'),
    ),
    row(
      'tls.ca.commonName',
      'empty or over 64 characters',
      '1 to 64 characters',
      { tls: { type: 'selfSigned', ca: { commonName: '' } } },
      line('tls.ca.commonName', '"" too small'),
    ),
    row(
      'tls.name',
      'not a Kubernetes object name',
      'the name of an existing issuer',
      { tls: { type: 'issuer', name: 'Corp_CA' }, trust: null },
      line('tls.name', '"Corp_CA" is not a Kubernetes object name'),
    ),
    row(
      'tls.secretName',
      'not a Kubernetes object name',
      'the name of the TLS Secret',
      { tls: { type: 'secret', secretName: 'Bad_Name' } },
      line('tls.secretName', '"Bad_Name" is not a Kubernetes object name'),
    ),
    row(
      'tls.rootsFile',
      'set without tls.chainFile',
      'name the chain file or remove rootsFile',
      { tls: { type: 'secret', secretName: 'harbor-tls', rootsFile: 'roots.pem' }, trust: null },
      line('tls.rootsFile', 'checks tls.chainFile, which is not set'),
    ),
    row(
      'tls.chainFile',
      'cannot be read',
      'name a readable PEM file',
      { tls: { type: 'secret', secretName: 'harbor-tls', chainFile: '/nonexistent/chain.pem' } },
      line('tls.chainFile', '"/nonexistent/chain.pem" cannot be read (ENOENT)'),
    ),
    row(
      'trust.nodes',
      'a private root in tls.rootsFile the nodes do not trust',
      'publish it in trust.extraSources, or trust.nodes: null',
      {
        tls: {
          type: 'secret',
          secretName: 'harbor-tls',
          chainFile: '/nonexistent/chain.pem',
          rootsFile: '/nonexistent/roots.pem',
        },
      },
      line('trust.nodes', 'tls.rootsFile names a private root, which the nodes do not trust'),
    ),
    row(
      'tls',
      'Vault with both server and inClusterServer',
      'inClusterServer: null for an existing Vault',
      { tls: { server: 'https://vault.example.test:8200' } },
      line('tls', 'needs exactly one of server (a Vault that exists) and inClusterServer'),
    ),
    row(
      'tls.setup.credentials',
      'missing for an existing Vault',
      'name the Secret key holding a setup token',
      { tls: { inClusterServer: null, server: 'https://vault.example.test:8200' } },
      line('tls.setup.credentials', 'is missing; name the Secret key with a Vault token'),
    ),
    row(
      'tls.setup',
      'null with an in-cluster Vault',
      'keep tls.setup',
      { tls: { setup: null }, trust: null },
      line('tls.setup', 'is null, but a new in-cluster Vault has no PKI'),
    ),
    row(
      'tls.rootCa',
      'missing without tls.setup',
      'name the ConfigMap holding the root, or add tls.setup',
      { tls: { ...EXTERNAL_VAULT, setup: null } },
      line('tls.rootCa', 'root CA bundle required'),
    ),
    row(
      'tls.serverCa',
      'set with the in-cluster Vault',
      'remove it',
      { tls: { serverCa: { name: 'vault-ca', key: 'ca.crt' } } },
      line('tls.serverCa', "is the in-cluster server's own CA already; remove it"),
    ),
    row(
      'tls.serverCa',
      'set for an http:// server',
      'remove it or serve Vault over https',
      {
        tls: {
          ...EXTERNAL_VAULT,
          server: 'http://vault.example.test:8200',
          serverCa: { name: 'vault-ca', key: 'ca.crt' },
        },
      },
      line('tls.serverCa', 'is only used over https, and server "http://vault.example.test:8200"'),
    ),
    row(
      'tls.server',
      'not a Vault URL',
      'http(s)://host[:port] without a path',
      { tls: { ...EXTERNAL_VAULT, server: 'ftp://vault.example.test' } },
      line('tls.server', '"ftp://vault.example.test" is an invalid Vault server URL'),
    ),
    row(
      'tls.mount',
      'an endpoint, not a mount',
      'the PKI mount alone, such as pki_int',
      { tls: { mount: 'pki/sign/harbor' } },
      line('tls.mount', '"pki/sign/harbor" names an endpoint, not a mount'),
    ),
    row(
      'tls.role',
      'not a Vault role name',
      'letters, digits, _ and -',
      { tls: { role: 'bad role' } },
      line('tls.role', '"bad role" is not a Vault role name'),
    ),
    row(
      'tls.auth.mountPath',
      'not a Vault path',
      'letters, digits, _ and -, without a leading /',
      { tls: { auth: { mountPath: '/kubernetes' } } },
      line('tls.auth.mountPath', '"/kubernetes" is not a Vault name'),
    ),
    row(
      'tls.setup.kubernetesHost',
      'set while configureKubernetesAuth is false',
      'set configureKubernetesAuth or remove it',
      {
        tls: {
          ...EXTERNAL_VAULT,
          setup: {
            credentials: { name: 'vault-token', key: 'token' },
            configureKubernetesAuth: false,
            kubernetesHost: 'https://k8s.example.test:6443',
          },
        },
      },
      line('tls.setup.kubernetesHost', 'is only written with tls.setup.configureKubernetesAuth'),
    ),
    row(
      'tls.setup.intermediateTtl',
      'not shorter than rootTtl',
      'a shorter intermediate or a longer root',
      { tls: { maxDuration: '720h', setup: { rootTtl: '1000h', intermediateTtl: '2000h' } } },
      line('tls.setup.intermediateTtl', '"2000h" is not shorter than rootTtl "1000h"'),
    ),
    row(
      'tls.maxDuration',
      'longer than the intermediate',
      'shorten it or lengthen intermediateTtl',
      { tls: { setup: { intermediateTtl: '1000h' } } },
      line('tls.maxDuration', '"2160h" is longer than intermediateTtl "1000h"'),
    ),
    row(
      'tls.setup.keyType',
      'unknown key type',
      'ec-256, ec-384, rsa-2048 or rsa-4096',
      { tls: { setup: { keyType: 'ed25519' } } },
      line('tls.setup.keyType', '"ed25519" is not allowed; use one of "ec-256"'),
    ),
    row(
      'tls.inClusterServer.namespace',
      "Harbor's namespace",
      'a namespace of its own',
      { tls: { inClusterServer: { namespace: 'harbor' } } },
      line('tls.inClusterServer.namespace', '"harbor" is Harbor\'s namespace; give Vault'),
    ),
    row(
      'tls.inClusterServer.storage.storageClassName',
      'an NFS class',
      'a block StorageClass',
      { tls: { inClusterServer: { storage: { storageClassName: 'nfs-csi' } } } },
      line('tls.inClusterServer.storage.storageClassName', '"nfs-csi" is an NFS class'),
    ),
    row(
      'tls.inClusterServer.image',
      'no tag',
      'pin a release tag or digest',
      { tls: { inClusterServer: { image: 'vault' } } },
      line('tls.inClusterServer.image', '"vault" has no tag, which means latest'),
    ),
    row(
      'tls.inClusterServer.image',
      'on the Harbor being deployed',
      'another registry or mirror',
      { tls: { inClusterServer: { image: 'harbor.example.test/library/vault:1.17.0' } } },
      line('tls.inClusterServer.image', 'is on harbor.example.test, the Harbor this'),
    ),
    row(
      'tls',
      'ACME with both http01 and dns01',
      'keep one solver',
      { tls: { ...ACME, http01: {}, dns01: DNS01 } },
      line('tls', 'takes one of http01 and dns01'),
    ),
    row(
      'tls.email',
      'not an email address',
      'the ACME account address',
      { tls: { ...ACME, email: 'ops' } },
      line('tls.email', '"ops" is not an email address'),
    ),
    row(
      'tls.server',
      'not an https ACME directory',
      'https://…/directory',
      { tls: { ...ACME, server: 'http://acme.example.test/directory' } },
      line('tls.server', 'is not an https URL of an ACME directory'),
    ),
    row(
      'tls.dns01.rfc2136.nameserver',
      'not host[:port]',
      'such as ns1.example.test:53',
      { tls: { ...ACME, dns01: { rfc2136: { nameserver: 'ns.example.test:99999' } } } },
      line('tls.dns01.rfc2136.nameserver', '"ns.example.test:99999" is not a DNS server'),
    ),
    row(
      'tls.dns01.rfc2136.tsigKeyName',
      'without tsigSecret, or the reverse',
      'set both or neither',
      { tls: { ...ACME, dns01: { rfc2136: { nameserver: '10.0.0.53', tsigKeyName: 'harbor' } } } },
      line('tls.dns01.rfc2136.tsigKeyName', 'and tsigSecret go together'),
    ),
    row(
      'tls.dns01.rfc2136.tsigAlgorithm',
      'unknown TSIG algorithm',
      'HMACMD5, HMACSHA1, HMACSHA256 or HMACSHA512',
      {
        tls: {
          ...ACME,
          dns01: {
            rfc2136: {
              nameserver: '10.0.0.53',
              tsigKeyName: 'harbor',
              tsigSecret: { name: 'tsig', key: 'secret' },
              tsigAlgorithm: 'MD4',
            },
          },
        },
      },
      line('tls.dns01.rfc2136.tsigAlgorithm', '"MD4" is not a TSIG algorithm'),
    ),
    row(
      'tls.externalAccountBinding.keyId',
      'empty',
      "the key id the CA's account page shows",
      {
        tls: { ...ACME, externalAccountBinding: { keyId: '', keySecret: { name: 'e', key: 'k' } } },
      },
      line('tls.externalAccountBinding.keyId', '"" too small'),
    ),
  ],
  trust: [
    row(
      'trust.trustNamespace',
      "not cert-manager's cluster resource namespace (self-signed CA)",
      'the namespace cert-manager keeps ClusterIssuer Secrets in',
      { tls: { type: 'selfSigned' }, trust: { trustNamespace: 'trust-manager' } },
      line('trust.trustNamespace', '"trust-manager" is not cert-manager\'s cluster resource'),
    ),
    row(
      'trust.bundleName',
      "starts with the instance's prefix",
      'keep the default (instance-ca) or a name without the prefix',
      { trust: { bundleName: 'harbor-bundle' } },
      line('trust.bundleName', '"harbor-bundle" starts with "harbor-"'),
    ),
    row(
      'trust.extraSources[i].kind',
      'neither ConfigMap nor Secret',
      'ConfigMap or Secret',
      { trust: { extraSources: [{ kind: 'Service', name: 'corp-ca' }] } },
      line('trust.extraSources[0].kind', '"Service" is not allowed'),
    ),
    row(
      'trust.extraSources[i].name',
      'not a Kubernetes object name',
      'the ConfigMap or Secret name',
      { trust: { extraSources: [{ kind: 'ConfigMap', name: 'Bad_Name' }] } },
      line('trust.extraSources[0].name', '"Bad_Name" is not a Kubernetes object name'),
    ),
    row(
      'trust.nodes.namespace',
      "Harbor's namespace",
      'a namespace of its own',
      { trust: { nodes: { namespace: 'harbor' } } },
      line('trust.nodes.namespace', '"harbor" is Harbor\'s namespace; give the node trust'),
    ),
    row(
      'trust.nodes.namespace',
      "the in-cluster Vault's namespace",
      'a namespace of its own',
      { trust: { nodes: { namespace: 'vault' } } },
      line('trust.nodes.namespace', '"vault" is the namespace tls.inClusterServer.namespace'),
    ),
    row(
      'tls.inClusterServer.namespace',
      'the namespace Harbor is given too',
      'separate namespaces for Harbor and Vault',
      { namespace: 'vault' },
      line('tls.inClusterServer.namespace', '"vault" is Harbor\'s namespace'),
    ),
    row(
      'trust.nodes.containerd, trust.nodes.docker, trust.nodes.rancher',
      'every runtime off',
      'enable at least one',
      { trust: { nodes: { containerd: false, docker: false } } },
      line('trust.nodes.containerd, trust.nodes.docker, trust.nodes.rancher', 'all off'),
    ),
    row(
      'trust.nodes.interval',
      'not a pause from 10 seconds to a day',
      'such as 300s, 5m or 1h',
      { trust: { nodes: { interval: '5s' } } },
      line('trust.nodes.interval', '"5s" is not a pause from 10 seconds to a day'),
    ),
    row(
      'trust.nodes.image',
      'no tag',
      'pin a release tag or digest',
      { trust: { nodes: { image: 'busybox' } } },
      line('trust.nodes.image', '"busybox" has no tag'),
    ),
    row(
      'trust.nodes.image',
      'on the registry whose CA it installs',
      'an upstream registry or another mirror',
      { trust: { nodes: { image: 'harbor.example.test/library/busybox:1.36' } } },
      line('trust.nodes.image', 'is the registry whose CA this installs'),
    ),
    row(
      'trust.nodes.containerdCertsDir',
      'not an absolute path',
      'such as /etc/containerd/certs.d',
      { trust: { nodes: { containerdCertsDir: 'etc/containerd' } } },
      line('trust.nodes.containerdCertsDir', '"etc/containerd" is not an absolute path'),
    ),
    row(
      'trust.nodes.rancher',
      'neither k3s nor rke2',
      'k3s or rke2',
      { trust: { nodes: { rancher: 'k8s' } } },
      line('trust.nodes.rancher', '"k8s" is not allowed; use one of "k3s", "rke2"'),
    ),
  ],
  nfs: [
    row(
      'registryStorage.storageClassName',
      'not the class nfs provides',
      'name that class, or nfs.type none',
      { registryStorage: { storageClassName: 'standard' } },
      line('registryStorage.storageClassName', '"standard" is not the class nfs provides'),
    ),
    row(
      'nfs',
      'both or neither of export and inClusterServer',
      'keep exactly one',
      { nfs: { export: null } },
      line('nfs', 'needs exactly one of export (a server that exists) and inClusterServer'),
    ),
    row(
      'nfs.type',
      'unknown provisioner',
      'csiDriverNfs, nfsSubdir, static or none',
      { nfs: { type: 'nfsv4' } },
      line('nfs.type', '"nfsv4" is not allowed; use one of "csiDriverNfs"'),
    ),
    row(
      'nfs.namespace',
      "Harbor's namespace",
      'a namespace of its own',
      { nfs: { namespace: 'harbor' } },
      line('nfs.namespace', '"harbor" is Harbor\'s namespace too'),
    ),
    row(
      'nfs.inClusterServer.storage.storageClassName',
      'the class the server provides',
      'a block StorageClass',
      {
        nfs: {
          export: null,
          inClusterServer: {
            clusterIP: '10.96.0.50',
            storage: { storageClassName: 'nfs-csi', size: '50Gi' },
          },
        },
      },
      line('nfs.inClusterServer.storage.storageClassName', 'is the class this server provides'),
    ),
    row(
      'nfs.inClusterServer.clusterIP',
      'not an IPv4 address',
      'a free address of the Service range',
      {
        nfs: {
          export: null,
          inClusterServer: {
            clusterIP: '10.96.0',
            storage: { storageClassName: 'standard', size: '50Gi' },
          },
        },
      },
      line('nfs.inClusterServer.clusterIP', '"10.96.0" is not an IPv4 address'),
    ),
    row(
      'nfs.export.server',
      'not a DNS name or address',
      'the NFS server name',
      { nfs: { export: { server: 'nfs server' } } },
      line('nfs.export.server', '"nfs server" is not a DNS name'),
    ),
    row(
      'nfs.export.share',
      'not an absolute path',
      'such as /exports/harbor',
      { nfs: { export: { share: 'exports/harbor' } } },
      line('nfs.export.share', '"exports/harbor" is not an absolute path'),
    ),
    row(
      'nfs.export.squash',
      'unknown squash mode',
      'no_root_squash, root_squash or all_squash',
      { nfs: { export: { squash: 'squash_all' } } },
      line('nfs.export.squash', '"squash_all" is not allowed'),
    ),
    row(
      'nfs.export.version',
      'NFS 3 without allowNoLock',
      'NFS 4.1, or allowNoLock',
      { nfs: { export: { version: '3' } } },
      line('nfs.export.version', '"3" locks through rpc.statd'),
    ),
    row(
      'nfs.export.allowNoLock',
      'set for NFS 4',
      'remove it',
      { nfs: { export: { allowNoLock: true } } },
      line('nfs.export.allowNoLock', 'applies to NFS v3 only'),
    ),
    row(
      'nfs.export.anonUid',
      'set without all_squash',
      'remove it or squash all_squash',
      { nfs: { export: { squash: 'no_root_squash', anonUid: 10000 } } },
      line('nfs.export.anonUid', 'applies to all_squash only'),
    ),
    row(
      'nfs.export.anonUid',
      "all_squash to another uid than Harbor's 10000",
      'export with anonuid=10000',
      { nfs: { export: { squash: 'all_squash', anonUid: 1000, anonGid: 10000 } } },
      line('nfs.export.anonUid', '1000 would own every file under all_squash'),
    ),
    row(
      'nfs.export.mountOptions[i]',
      'an option the export settings set',
      'remove it',
      { nfs: { export: { mountOptions: ['hard'] } } },
      line('nfs.export.mountOptions[0]', '"hard" is set from version, always, or allowNoLock'),
    ),
    row(
      'nfs.export.mountOptions[i]',
      'unknown mount option',
      'one of the listed options',
      { nfs: { export: { mountOptions: ['bad option!'] } } },
      line('nfs.export.mountOptions[0]', '"bad option!" is not a known NFS mount option'),
    ),
    row(
      'nfs.export.mountOptions[i]',
      'an option given twice',
      'give it once',
      { nfs: { export: { mountOptions: ['timeo=600', 'timeo=300'] } } },
      line('nfs.export.mountOptions[1]', 'repeats timeo; give it once'),
    ),
    row(
      'nfs.export.mountOptions',
      'proto=tcp6 for an IPv4 server',
      'proto=tcp',
      { nfs: { export: { server: '192.0.2.10', mountOptions: ['proto=tcp6'] } } },
      line('nfs.export.mountOptions', '"proto=tcp6" needs an IPv6 server'),
    ),
    row(
      'nfs.subDir',
      'not a relative path',
      'segments without a leading slash or ..',
      { nfs: { subDir: '../escape' } },
      line('nfs.subDir', '"../escape" is not a relative path'),
    ),
    row(
      'nfs.mountPermissions',
      'not an octal mode',
      'such as "0775"',
      { nfs: { mountPermissions: '999' } },
      line('nfs.mountPermissions', '"999" is not an octal mode'),
    ),
    row(
      'nfs.kubeletDir',
      'not an absolute directory',
      'such as /var/lib/kubelet',
      { nfs: { kubeletDir: 'var/lib/kubelet' } },
      line('nfs.kubeletDir', '"var/lib/kubelet" is not an absolute directory'),
    ),
    row(
      'nfs.onDelete',
      'unknown policy',
      'retain, archive or delete',
      { nfs: { onDelete: 'purge' } },
      line('nfs.onDelete', '"purge" is not allowed; use one of "retain"'),
    ),
    row(
      'nfs.pathPattern',
      'does not name the claim',
      'include `${.PVC.name}`',
      { nfs: { type: 'nfsSubdir', export: EXPORT, pathPattern: '${.PVC.namespace}' } },
      line('nfs.pathPattern', '"${.PVC.namespace}" does not name the claim'),
    ),
    row(
      'nfs.pathPattern',
      'with onDelete archive',
      'drop pathPattern, or retain or delete',
      {
        nfs: {
          type: 'nfsSubdir',
          export: EXPORT,
          onDelete: 'archive',
          pathPattern: '${.PVC.namespace}-${.PVC.name}',
        },
      },
      line('nfs.pathPattern', 'archive not supported with pathPattern'),
    ),
    row(
      'nfs.pathPattern',
      'several path segments with onDelete delete',
      'one segment, or onDelete retain',
      {
        nfs: {
          type: 'nfsSubdir',
          export: EXPORT,
          onDelete: 'delete',
          pathPattern: '${.PVC.namespace}/${.PVC.name}',
        },
      },
      line('nfs.pathPattern', 'has several path segments'),
    ),
    row(
      'nfs.export',
      'missing for a static volume',
      'name the export',
      { nfs: { type: 'static' } },
      line('nfs.export', 'is missing; expected a mapping'),
    ),
    row(
      'nfs.subPath',
      'absolute',
      'a directory under the share',
      { nfs: { type: 'static', export: EXPORT, subPath: '/harbor' } },
      line('nfs.subPath', '"/harbor" is absolute'),
    ),
  ],
  database: [
    row(
      'database.storage.storageClassName',
      'an NFS class',
      'a block StorageClass, or database.allowNfs',
      { database: { storage: { storageClassName: 'nfs-csi' } } },
      line('database.storage.storageClassName', '"nfs-csi" is an NFS class, and PostgreSQL'),
    ),
    row(
      'database.storage.size',
      'not a size',
      'such as 5Gi',
      { database: { storage: { size: '5GB' } } },
      line('database.storage.size', '"5GB" is not a size'),
    ),
    row(
      'database.storage.accessMode',
      'unknown access mode',
      'ReadWriteOnce or ReadWriteMany',
      { database: { storage: { accessMode: 'ReadWriteAll' } } },
      line('database.storage.accessMode', '"ReadWriteAll" is not allowed'),
    ),
    row(
      'database.resources.cpu',
      'not a CPU amount',
      'such as 250m or 1',
      { database: { resources: { cpu: 'lots', memory: '1Gi' } } },
      line('database.resources.cpu', '"lots" is not a CPU amount'),
    ),
    row(
      'database.resources.memoryLimit',
      'below the request',
      'a limit at least the request',
      { database: { resources: { cpu: '250m', memory: '1Gi', memoryLimit: '512Mi' } } },
      line('database.resources.memoryLimit', '"512Mi" is below the request "1Gi"'),
    ),
    row(
      'database.host',
      'a URL',
      'the host name alone, the port in database.port',
      { database: { ...EXTERNAL_DB, host: 'https://pg.example.test' } },
      line('database.host', '"https://pg.example.test" is a URL'),
    ),
    row(
      'database.host',
      'includes a port',
      'the port in database.port',
      { database: { ...EXTERNAL_DB, host: 'pg.example.test:5432' } },
      line('database.host', '"pg.example.test:5432" includes a port'),
    ),
    row(
      'database.port',
      'not a TCP port',
      'a whole number from 1 to 65535',
      { database: { ...EXTERNAL_DB, port: 0 } },
      line('database.port', '0 is not a TCP port'),
    ),
    row(
      'database.password',
      'missing for an external database',
      'name the Secret key',
      { database: { type: 'external', host: 'pg.example.test' } },
      line('database.password', 'is missing; must be a Secret reference'),
    ),
    row(
      'database.sslMode',
      'unknown mode',
      'disable, require, verify-ca or verify-full',
      { database: { ...EXTERNAL_DB, sslMode: 'prefer' } },
      line('database.sslMode', '"prefer" is not allowed'),
    ),
    row(
      'database.sslMode',
      'verify-ca or verify-full with no CA for the backup',
      'caBundle (or trust), or require',
      {
        database: { ...EXTERNAL_DB, sslMode: 'verify-full' },
        tls: { type: 'issuer', name: 'corp-ca' },
        trust: null,
      },
      line('database.sslMode', '"verify-full" checks the server\'s certificate, and the backup'),
    ),
    row(
      'database.database',
      'cannot name a dump file',
      "letters, digits, '_', '.' and '-'",
      { database: { ...EXTERNAL_DB, database: 'harbor db' } },
      line('database.database', '"harbor db" cannot name a dump file'),
    ),
    row(
      'database.storage',
      'a setting of the internal database on an external one',
      'remove it',
      { database: { ...EXTERNAL_DB, storage: { storageClassName: 'standard', size: '5Gi' } } },
      line('database.storage', 'is not a setting of database with type "external"'),
    ),
  ],
  redis: [
    row(
      'redis.storage.storageClassName',
      'an NFS class',
      'a block StorageClass, or redis.allowNfs',
      { redis: { storage: { storageClassName: 'nfs-csi' } } },
      line('redis.storage.storageClassName', '"nfs-csi" is an NFS class, and the redis volume'),
    ),
    row(
      'redis.host',
      'not a DNS name',
      'the Redis host name',
      { redis: { ...EXTERNAL_REDIS, host: 'redis example' } },
      line('redis.host', '"redis example" is not a DNS name'),
    ),
    row(
      'redis.username',
      'not usable in a Redis URL',
      "letters, digits, '.', '_', '~' and '-'",
      { redis: { ...EXTERNAL_REDIS, username: 'a@b' } },
      line('redis.username', '"a@b" is not usable in a Redis URL'),
    ),
  ],
  trivy: [
    row(
      'trivy.storage.storageClassName',
      'an NFS class',
      'a block StorageClass, or trivy.allowNfs',
      { trivy: { storage: { storageClassName: 'nfs-csi' } } },
      line('trivy.storage.storageClassName', '"nfs-csi" is an NFS class'),
    ),
    row(
      'trivy.severities',
      'empty',
      'at least one severity',
      { trivy: { severities: [] } },
      line('trivy.severities', '[] too small'),
    ),
    row(
      'trivy.severities[i]',
      'unknown severity',
      'UNKNOWN, LOW, MEDIUM, HIGH or CRITICAL',
      { trivy: { severities: ['SEVERE'] } },
      line('trivy.severities[0]', '"SEVERE" is not allowed'),
    ),
    row(
      'trivy.skipUpdate',
      'no database to scan with',
      'dbPreloaded, or a mirror in dbRepository',
      { trivy: { skipUpdate: true } },
      line('trivy.skipUpdate', 'true leaves the scanner without a vulnerability database'),
    ),
    row(
      'trivy.airGapped',
      'no database to scan with',
      'dbPreloaded, or a mirror in dbRepository',
      { trivy: { airGapped: true } },
      line('trivy.airGapped', 'true leaves the scanner without a vulnerability database'),
    ),
    row(
      'trivy.offlineScan',
      'false while airGapped',
      'remove it',
      {
        trivy: {
          airGapped: true,
          offlineScan: false,
          dbRepository: ['mirror.example.test/trivy/trivy-db'],
        },
      },
      line('trivy.offlineScan', 'false contradicts trivy.airGapped'),
    ),
    row(
      'trivy.dbRepository[i]',
      'not an OCI repository',
      'such as registry.example.test/mirror/trivy-db',
      { trivy: { dbRepository: ['Bad Repo'] } },
      line('trivy.dbRepository[0]', '"Bad Repo" is not an OCI repository'),
    ),
    row(
      'trivy.dbRepository',
      'empty',
      'name a mirror or remove it',
      { trivy: { dbRepository: [] } },
      line('trivy.dbRepository', 'is empty'),
    ),
    row(
      'trivy.resources.memory',
      'not a size',
      'such as 512Mi',
      { trivy: { resources: { cpu: '1', memory: 'lots' } } },
      line('trivy.resources.memory', '"lots" is not a size'),
    ),
  ],
  backup: [
    row(
      'backup.schedule',
      'not a five-field cron',
      'such as "30 2 * * *"',
      { backup: { schedule: 'every night' } },
      line('backup.schedule', '"every night" is not a cron schedule of five fields'),
    ),
    row(
      'backup.retain',
      'not 1 to 365',
      'a whole number from 1 to 365',
      { backup: { retain: 0 } },
      line('backup.retain', '0 is not a number of dumps to keep'),
    ),
    row(
      'backup.timeZone',
      'not an IANA time zone',
      'such as Etc/UTC',
      { backup: { timeZone: 'Mars/Base' } },
      line('backup.timeZone', '"Mars/Base" is not an IANA time zone'),
    ),
    row(
      'backup.storage.size',
      'not a size',
      'such as 20Gi',
      { backup: { storage: { size: '20' } } },
      line('backup.storage.size', '"20" is not a size'),
    ),
  ],
  'replicas and high availability': [
    row(
      'replicas.*',
      'not 1 to 20',
      'a whole number from 1 to 20',
      { replicas: { core: 0 } },
      line('replicas.core', '0 is not a whole number from 1 to 20'),
    ),
    row(
      'replicas.*',
      'unknown component',
      'core, portal, registry or jobservice',
      { replicas: { trivy: 2 } },
      line('replicas.trivy', 'unknown key'),
    ),
    row(
      'replicas.registry',
      'several replicas on a ReadWriteOnce volume',
      '1 replica, or a ReadWriteMany class',
      { replicas: { registry: 2 }, registryStorage: { accessMode: 'ReadWriteOnce' } },
      line('replicas.registry', '2 replicas share one volume, which needs'),
    ),
    row(
      'database.type',
      'internal with highAvailability',
      'an external PostgreSQL',
      { highAvailability: true, redis: EXTERNAL_REDIS },
      line('database.type', '"internal" is a single PostgreSQL pod'),
    ),
    row(
      'redis.type',
      'internal with highAvailability',
      'an external Redis',
      { highAvailability: true, database: EXTERNAL_DB },
      line('redis.type', '"internal" is a single Redis pod'),
    ),
    row(
      'replicas.*',
      'one replica with highAvailability',
      '2 or more, or highAvailability off',
      { ...HA, replicas: { core: 1 } },
      line('replicas.core', '1 replica leaves no core during a node drain'),
    ),
    row(
      'resources.*.memoryLimit',
      'below the request',
      'a limit at least the request',
      { resources: { core: { cpu: '500m', memory: '1Gi', memoryLimit: '512Mi' } } },
      line('resources.core.memoryLimit', '"512Mi" is below the request "1Gi"'),
    ),
    row(
      'resources.*.cpu',
      'not a CPU amount',
      'such as 250m or 1',
      { resources: { portal: { cpu: 'fast', memory: '128Mi' } } },
      line('resources.portal.cpu', '"fast" is not a CPU amount'),
    ),
  ],
  exposure: [
    row(
      'ingressClassName',
      'disagrees with the exposure section',
      'set exposure.className only',
      { ingressClassName: 'internal', exposure: { type: 'traefik' } },
      line('ingressClassName', '"internal" is the class of the ingress-nginx exposure'),
    ),
    row(
      'ingressClassName',
      'not a Kubernetes object name',
      'the IngressClass name',
      { ingressClassName: 'Bad_Class' },
      line('ingressClassName', '"Bad_Class" is not a Kubernetes object name'),
    ),
    row(
      'exposure.type',
      'unknown exposure',
      'nginx, traefik or gatewayApi',
      { exposure: { type: 'haproxy' }, ingressClassName: null },
      line('exposure.type', '"haproxy" is not allowed'),
    ),
    row(
      'exposure.entryPoints',
      'empty',
      'name the TLS entry point, such as websecure',
      { exposure: { type: 'traefik', entryPoints: [] }, ingressClassName: null },
      line('exposure.entryPoints', '[] is empty; name the TLS entry point'),
    ),
    row(
      'exposure.entryPoints[i]',
      'not a Traefik entry point name',
      "letters, digits, '-' and '_'",
      { exposure: { type: 'traefik', entryPoints: ['web secure'] }, ingressClassName: null },
      line('exposure.entryPoints[0]', '"web secure" is not a Traefik entry point name'),
    ),
    row(
      'exposure.gateway',
      'missing for gatewayApi',
      'name the Gateway',
      { exposure: { type: 'gatewayApi' }, ingressClassName: null },
      line('exposure.gateway', 'is missing; expected a mapping'),
    ),
    row(
      'exposure.gateway.namespace',
      'not a DNS label',
      "the Gateway's namespace",
      {
        ...GATEWAY,
        exposure: { type: 'gatewayApi', gateway: { name: 'gw', namespace: 'Gateways' } },
      },
      line('exposure.gateway.namespace', '"Gateways" is not a DNS label'),
    ),
    row(
      'exposure.gateway.sectionName',
      'not a listener name',
      "the Gateway's listeners[].name",
      {
        ...GATEWAY,
        exposure: {
          type: 'gatewayApi',
          gateway: { name: 'gw', namespace: 'gateways', sectionName: 'Bad Name!' },
        },
        tls: { issuerKind: 'ClusterIssuer' },
      },
      line('exposure.gateway.sectionName', '"Bad Name!" is not a listener name'),
    ),
    row(
      'tls.issuerKind',
      'Issuer for a Gateway in another namespace',
      'ClusterIssuer',
      GATEWAY,
      line('tls.issuerKind', "cannot issue the Gateway's certificate, which must be in"),
    ),
    row(
      'tls.http01.ingressClassName',
      'an Ingress class with the Gateway API',
      'remove it, or use dns01',
      {
        ...GATEWAY,
        tls: { ...ACME, issuerKind: 'ClusterIssuer', http01: { ingressClassName: 'nginx' } },
      },
      line('tls.http01.ingressClassName', '"nginx" names an Ingress class, but exposure.type'),
    ),
  ],
  networkPolicies: [
    row(
      'networkPolicies.ingressController',
      "left at ingress-nginx's pods with another exposure",
      'the namespace and labels of the proxy in front of Harbor',
      { exposure: { type: 'traefik' }, ...policies({}) },
      line('networkPolicies.ingressController', 'but exposure.type is "traefik"'),
    ),
    row(
      'networkPolicies.externalEgress',
      'empty while settings name servers outside the cluster',
      'list their addresses and ports',
      {
        ...policies({}),
        settings: { registries: [{ name: 'dr', type: 'harbor', url: 'https://dr.example.test' }] },
      },
      line('networkPolicies.externalEgress', 'is empty, so core and jobservice cannot reach'),
    ),
    row(
      'networkPolicies.trivyEgress',
      'set without a scanner',
      'remove it or turn trivy on',
      {
        trivy: { enabled: false },
        ...policies({ trivyEgress: [{ cidrs: ['0.0.0.0/0'], ports: [443] }] }),
      },
      line('networkPolicies.trivyEgress', 'is set, but there is no scanner'),
    ),
    row(
      'networkPolicies.database',
      'set for the internal database',
      'remove it',
      policies({ database: { cidrs: ['10.0.0.0/24'] } }),
      line('networkPolicies.database', 'but database.type is internal'),
    ),
    row(
      'networkPolicies.redis',
      'set for the internal Redis',
      'remove it',
      policies({ redis: { cidrs: ['10.0.0.0/24'] } }),
      line('networkPolicies.redis', 'but redis.type is internal'),
    ),
    row(
      'networkPolicies.*.cidrs[i]',
      'not a CIDR block',
      'an address and a prefix length',
      egress(['10.0.0.300/24'], [443]),
      line('networkPolicies.externalEgress[0].cidrs[0]', '"10.0.0.300/24" is not a CIDR block'),
    ),
    row(
      'networkPolicies.*.cidrs[i]',
      'bits set after the prefix',
      "the block's first address",
      egress(['10.0.0.5/24'], [443]),
      line('networkPolicies.externalEgress[0].cidrs[0]', 'has bits set after the /24 prefix'),
    ),
    row(
      'networkPolicies.*.cidrs',
      'empty',
      'list the blocks, or 0.0.0.0/0 and ::/0',
      egress([], [443]),
      line('networkPolicies.externalEgress[0].cidrs', '[] is empty; list the address blocks'),
    ),
    row(
      'networkPolicies.*.ports',
      'empty, which means every port',
      'list the ports',
      egress(['10.0.0.0/24'], []),
      line('networkPolicies.externalEgress[0].ports', '[] is empty, which a policy reads as'),
    ),
    row(
      'networkPolicies.*.ports[i]',
      'not a TCP port',
      'a whole number from 1 to 65535',
      policies({ kubernetesApi: { cidrs: ['10.0.0.1/32'], ports: [70000] } }),
      line('networkPolicies.kubernetesApi.ports[0]', '70000 is not a TCP port'),
    ),
    row(
      'networkPolicies.*.namespace',
      'not a DNS label',
      "the peer's namespace",
      policies({ ingressController: { namespace: 'Ingress_Nginx' } }),
      line('networkPolicies.ingressController.namespace', '"Ingress_Nginx" is not a DNS label'),
    ),
    row(
      'networkPolicies.*.podLabels',
      'not a label key',
      'a label key, optionally with a DNS prefix',
      policies({ dns: { namespace: 'kube-system', podLabels: { 'bad key!': 'x' } } }),
      line('networkPolicies.dns.podLabels', '"bad key!" is not a label key'),
    ),
    row(
      'networkPolicies.*.podLabels.<key>',
      'not a label value',
      'at most 63 letters, digits, -, _ and .',
      policies({ metricsScrapers: { namespace: 'monitoring', podLabels: { app: 'bad value!' } } }),
      line('networkPolicies.metricsScrapers.podLabels.app', '"bad value!" is not a label value'),
    ),
  ],
  metrics: [
    row(
      'metrics.serviceMonitor.enabled',
      'on while metrics are off',
      'metrics.enabled true, or the monitor off',
      { metrics: { enabled: false, serviceMonitor: { enabled: true } } },
      line('metrics.serviceMonitor.enabled', 'true has nothing to scrape'),
    ),
    row(
      'metrics.serviceMonitor.interval',
      'not a Prometheus duration',
      'such as 30s or 1m',
      { metrics: { enabled: true, serviceMonitor: { interval: '30' } } },
      line('metrics.serviceMonitor.interval', '"30" is not a Prometheus duration'),
    ),
    row(
      'metrics.serviceMonitor.namespace',
      'not a DNS label',
      "Prometheus' namespace",
      { metrics: { enabled: true, serviceMonitor: { namespace: 'Monitoring' } } },
      line('metrics.serviceMonitor.namespace', '"Monitoring" is not a DNS label'),
    ),
    row(
      'metrics.serviceMonitor.labels',
      'not a label key',
      'a label key, optionally with a DNS prefix',
      { metrics: { enabled: true, serviceMonitor: { labels: { 'bad key': 'x' } } } },
      line('metrics.serviceMonitor.labels', '"bad key" is not a label key'),
    ),
    row(
      'metrics.serviceMonitor.labels.<key>',
      'not a label value',
      'at most 63 letters, digits, -, _ and .',
      { metrics: { enabled: true, serviceMonitor: { labels: { release: 'bad value!' } } } },
      line('metrics.serviceMonitor.labels.release', '"bad value!" is not a label value'),
    ),
    row(
      'metrics.exporterResources.cpu',
      'not a CPU amount',
      'such as 100m',
      { metrics: { enabled: true, exporterResources: { cpu: 'lots', memory: '64Mi' } } },
      line('metrics.exporterResources.cpu', '"lots" is not a CPU amount'),
    ),
    row(
      'metrics.enabled',
      'missing',
      'true or false',
      { metrics: {} },
      line('metrics.enabled', 'is missing; expected true or false'),
    ),
  ],
  internalTls: [
    row(
      'internalTls.renewBefore',
      'not shorter than internalTls.duration',
      'renew well before expiry',
      { internalTls: { enabled: true, duration: '720h', renewBefore: '720h' } },
      line('internalTls.renewBefore', '"720h" is not shorter than internalTls.duration "720h"'),
    ),
    row(
      'internalTls.duration',
      'outlives the internal CA',
      'at most 87600h',
      { internalTls: { enabled: true, duration: '100000h' } },
      line('internalTls.duration', '"100000h" exceeds the longest lifetime the internal CA'),
    ),
    row(
      'internalTls.duration',
      "longer than the issuer's limit",
      'ask for less or raise internalTls.issuer.maxDuration',
      {
        internalTls: {
          enabled: true,
          issuer: { name: 'corp-ca', maxDuration: '720h' },
          duration: '2160h',
        },
      },
      line('internalTls.duration', '"2160h" exceeds the longest lifetime issuer "corp-ca"'),
    ),
    row(
      'internalTls.duration',
      'shorter than 1h',
      'at least 1h',
      { internalTls: { enabled: true, duration: '30m' } },
      line('internalTls.duration', '"30m" is shorter than 1h'),
    ),
    row(
      'internalTls.issuer.name',
      'not a Kubernetes object name',
      'the name of an existing CA issuer',
      { internalTls: { enabled: true, issuer: { name: 'Corp_CA' } } },
      line('internalTls.issuer.name', '"Corp_CA" is not a Kubernetes object name'),
    ),
    row(
      'internalTls.issuer.name',
      'the ACME issuer of tls, which cannot issue for Service names',
      'remove internalTls.issuer',
      { tls: ACME, internalTls: { enabled: true, issuer: { name: 'harbor-acme' } } },
      line('internalTls.issuer.name', '"harbor-acme" is the ACME issuer of tls'),
    ),
    row(
      'internalTls.issuer.name',
      'the Vault issuer of tls, whose role allows the host alone',
      'remove internalTls.issuer',
      { internalTls: { enabled: true, issuer: { name: 'harbor-vault' } } },
      line('internalTls.issuer.name', '"harbor-vault" is the Vault issuer of tls'),
    ),
    row(
      'internalTls.enabled',
      'true with exposure gatewayApi',
      'nginx or traefik, or internal TLS off',
      { ...GATEWAY, tls: { issuerKind: 'ClusterIssuer' }, internalTls: { enabled: true } },
      line('internalTls.enabled', 'true cannot be combined with exposure gatewayApi'),
    ),
    row(
      'internalTls.*',
      'a setting while enabled is false',
      'remove it or enable internal TLS',
      { internalTls: { enabled: false, duration: '720h' } },
      line('internalTls.duration', 'has no effect while enabled is false'),
    ),
  ],
  settings: [
    row(
      'settings.scanAllSchedule.cron',
      'five fields',
      'Harbor crons have six, seconds first',
      { settings: { scanAllSchedule: { cron: '0 2 * * *' } } },
      line('settings.scanAllSchedule.cron', 'Harbor crons have 6, seconds first'),
    ),
    row(
      'settings.projects[i].name',
      'not a project name Harbor accepts',
      "lowercase letters, digits and '._-'",
      { settings: { projects: [{ name: 'Apps!' }], robots: [] } },
      line('settings.projects[0].name', '"Apps!" is not a project name Harbor accepts'),
    ),
    row(
      'settings.projects[i].name',
      'declared twice',
      'unique names',
      { settings: { projects: [{ name: 'apps' }, { name: 'apps' }] } },
      line('settings.projects[1].name', '"apps" is already the name of projects[0]'),
    ),
    row(
      'settings.projects[i].signatures[i]',
      'notary',
      'cosign or notation',
      { settings: { projects: [{ name: 'apps', signatures: ['notary'] }] } },
      line('settings.projects[0].signatures[0]', 'Notary is not supported'),
    ),
    row(
      'settings.projects[i].signatures',
      'cosign enforced on a project with helmCharts',
      'keep charts in another project',
      { settings: { projects: [{ name: 'apps', signatures: ['cosign'], helmCharts: true }] } },
      line('settings.projects[0].signatures', "refuses the tag step of 'helm push'"),
    ),
    row(
      'settings.projects[i].preventVulnerable.severity',
      'not a severity',
      'none, low, medium, high or critical',
      { settings: { projects: [{ name: 'apps', preventVulnerable: { severity: 'severe' } }] } },
      line('settings.projects[0].preventVulnerable.severity', '"severe" is not a severity'),
    ),
    row(
      'settings.projects[i].storageLimit',
      'below zero',
      'a size, or -1 for no limit',
      { settings: { projects: [{ name: 'apps', storageLimit: -5 }] } },
      line('settings.projects[0].storageLimit', '-5 is below zero'),
    ),
    row(
      'settings.projects[i].useSystemCveAllowlist',
      'true with a cveAllowlist of its own',
      'leave out one of them',
      {
        settings: {
          projects: [
            {
              name: 'apps',
              cveAllowlist: { items: ['CVE-2024-1234'] },
              useSystemCveAllowlist: true,
            },
          ],
        },
      },
      line('settings.projects[0].useSystemCveAllowlist', 'true contradicts cveAllowlist'),
    ),
    row(
      'settings.projects[i].scanner',
      'neither Trivy nor a declared scanner',
      'declare it in scanners',
      { settings: { projects: [{ name: 'apps', scanner: 'clair' }] } },
      line('settings.projects[0].scanner', '"clair" is neither \'Trivy\' nor a scanner'),
    ),
    row(
      'settings.projects[i].retention.rules[i].template',
      'unknown retention template',
      'one of the listed templates',
      {
        settings: {
          projects: [{ name: 'apps', retention: { rules: [{ template: 'keepForever' }] } }],
        },
      },
      line('settings.projects[0].retention.rules[0].template', '"keepForever" is not one of'),
    ),
    row(
      'settings.robots[i].name',
      'not a robot name Harbor accepts',
      "lowercase letters, digits and '._-'",
      {
        settings: {
          robots: [{ name: 'CI bot', level: { project: 'apps' }, permissions: ['push'] }],
        },
      },
      line('settings.robots[0].name', '"CI bot" is not a robot name Harbor accepts'),
    ),
    row(
      'settings.robots[i].level.project',
      'not a declared project',
      'declare it in projects',
      {
        settings: {
          robots: [{ name: 'ci', level: { project: 'missing' }, permissions: ['push'] }],
        },
      },
      line('settings.robots[0].level.project', '"missing" is not a project declared in projects'),
    ),
    row(
      'settings.robots[i].permissions[i]',
      'a system permission on a project robot',
      'project permissions only, or a system robot',
      ciRobot({ permissions: [{ system: [{ resource: 'project', action: 'create' }] }] }),
      line('settings.robots[0].permissions[0]', 'is a system permission'),
    ),
    row(
      'settings.robots[i].permissions[i].access[i]',
      'not a permission Harbor grants robots',
      'a resource and action pair Harbor grants',
      ciRobot({ permissions: [{ access: [{ resource: 'repository', action: 'fly' }] }] }),
      line('settings.robots[0].permissions[0].access[0]', 'is not a project permission Harbor'),
    ),
    row(
      'settings.robots[i].duration',
      'not -1 or a number of days',
      '-1 (never expires) or days from 1',
      {
        settings: {
          robots: [{ name: 'ci', level: { project: 'apps' }, permissions: ['push'], duration: 0 }],
        },
      },
      line('settings.robots[0].duration', '0 is not a duration Harbor keeps'),
    ),
    row(
      'settings.robots[i].pullSecret.namespaces[i]',
      'not a DNS label',
      'a namespace name',
      ciRobot({ permissions: ['pull'], pullSecret: { namespaces: ['Bad_NS'] } }),
      line('settings.robots[0].pullSecret.namespaces[0]', '"Bad_NS" is not a DNS label'),
    ),
    row(
      'settings.registries[i].url',
      'not an http(s) URL',
      'such as https://registry.example.test',
      {
        settings: {
          registries: [{ name: 'hub', type: 'docker-hub', url: 'ftp://hub.example.test' }],
        },
      },
      line('settings.registries[0].url', '"ftp://hub.example.test" is not an http(s) URL'),
    ),
    row(
      'settings.registries[i].credential.*.name',
      'not a Kubernetes object name',
      'the Secret name',
      {
        settings: {
          registries: [
            {
              name: 'hub',
              type: 'docker-hub',
              url: 'https://hub.example.test',
              credential: {
                accessKey: { name: 'Bad_Name', key: 'user' },
                accessSecret: { name: 'hub', key: 'token' },
              },
            },
          ],
        },
      },
      line('settings.registries[0].credential.accessKey.name', '"Bad_Name" is not a Kubernetes'),
    ),
    row(
      'settings.replicationPolicies[i].pullFrom',
      'not a declared registry',
      'declare it in registries',
      { settings: { replicationPolicies: [{ name: 'mirror', pullFrom: 'hub' }] } },
      line('settings.replicationPolicies[0].pullFrom', '"hub" is not a registry declared'),
    ),
    row(
      'settings.replicationPolicies[i]',
      'neither or both of pullFrom and pushTo',
      'set exactly one',
      { settings: { replicationPolicies: [{ name: 'mirror' }] } },
      line('settings.replicationPolicies[0]', 'sets neither pullFrom and pushTo'),
    ),
    row(
      'settings.replicationPolicies[i].trigger',
      'event based on a pull policy',
      'a scheduled or manual trigger',
      {
        settings: {
          registries: [{ name: 'hub', type: 'docker-hub', url: 'https://hub.example.test' }],
          replicationPolicies: [{ name: 'mirror', pullFrom: 'hub', trigger: 'eventBased' }],
        },
      },
      line('settings.replicationPolicies[0].trigger', 'is event based on a pull policy'),
    ),
    row(
      'settings.scanners',
      'several marked default',
      'mark at most one',
      {
        settings: {
          scanners: [
            { name: 'a', url: 'https://a.example.test', default: true },
            { name: 'b', url: 'https://b.example.test', default: true },
          ],
        },
      },
      line('settings.scanners', 'mark at most one scanner as default'),
    ),
    row(
      'settings.systemCveAllowlist.items[i]',
      'not a CVE id',
      'such as CVE-2024-3094',
      { settings: { systemCveAllowlist: { items: ['CVE-XYZ'] } } },
      line('settings.systemCveAllowlist.items[0]', '"CVE-XYZ" is not a CVE id'),
    ),
    row(
      'settings.systemCveAllowlist.expiresAt',
      'not an ISO date',
      'such as 2026-12-31',
      { settings: { systemCveAllowlist: { items: ['CVE-2024-1234'], expiresAt: 'next year' } } },
      line('settings.systemCveAllowlist.expiresAt', '"next year" is not an ISO date'),
    ),
    row(
      'settings.auditLog.skipDatabase',
      'true without forwardEndpoint',
      'set forwardEndpoint too',
      { settings: { auditLog: { skipDatabase: true } } },
      line('settings.auditLog.skipDatabase', 'set forwardEndpoint too'),
    ),
    row(
      'settings.auditLog.forwardEndpoint',
      'not host:port',
      'such as syslog.example.test:514',
      { settings: { auditLog: { forwardEndpoint: 'syslog.example.test' } } },
      line('settings.auditLog.forwardEndpoint', '"syslog.example.test" is not host:port'),
    ),
    row(
      'settings.authentication.scope',
      "lacks 'openid'",
      'add openid',
      {
        settings: {
          authentication: {
            type: 'oidc',
            name: 'sso',
            endpoint: 'https://sso.example.test',
            clientId: 'harbor',
            clientSecret: { name: 'oidc', key: 'secret' },
            scope: ['profile'],
          },
        },
      },
      line('settings.authentication.scope', "lacks 'openid'"),
    ),
    row(
      'settings.robots[i].pullSecret.name',
      'two robots write one Secret in one namespace',
      'give each robot its own Secret',
      {
        settings: {
          robots: [
            { name: 'ci', level: { project: 'apps' }, permissions: ['push'] },
            {
              name: 'other',
              level: { project: 'apps' },
              permissions: ['pull'],
              pullSecret: { name: 'harbor-robot-ci', namespaces: ['harbor'] },
            },
          ],
        },
      },
      line('settings.robots[1].pullSecret.name', 'is written by settings.robots[0] too'),
    ),
    row(
      'settings.robots[i].pullSecret.name',
      "a name of Harbor's own objects",
      'name it <instance>-robot-<name>, or without the prefix',
      ciRobot({ permissions: ['push'], pullSecret: { name: 'harbor-admin-password' } }),
      line('settings.robots[0].pullSecret.name', "takes a name of Harbor's own objects"),
    ),
    row(
      'settings.robots[i].pullSecret.name',
      "made from the robot's name, not a Kubernetes object name",
      'set pullSecret.name',
      {
        settings: {
          robots: [{ name: 'b'.repeat(245), level: { project: 'apps' }, permissions: ['push'] }],
        },
      },
      line('settings.robots[0].pullSecret.name', "made from the robot's name"),
    ),
    row(
      'settings.robots[i].pullSecret.serviceAccounts[i]',
      "the settings Job's own ServiceAccount",
      'name the account the pulling pods run as',
      ciRobot({ permissions: ['push'], pullSecret: { serviceAccounts: ['harbor-settings'] } }),
      line('settings.robots[0].pullSecret.serviceAccounts[0]', "is the settings Job's own"),
    ),
    row(
      'settings.robots[i].pullSecret.namespaces[i]',
      'a namespace of Kubernetes or of another part of the platform',
      'list the namespaces of the pods that pull',
      ciRobot({ permissions: ['push'], pullSecret: { namespaces: ['csi-nfs'] } }),
      line('settings.robots[0].pullSecret.namespaces[0]', `"csi-nfs" is the NFS driver's`),
    ),
    row(
      'settings.projects[i].storageLimit',
      'above 8192Ti',
      'a smaller size, or unlimited',
      { settings: { projects: [{ name: 'apps', storageLimit: '999999999Ti' }] } },
      line('settings.projects[0].storageLimit', 'is above 8192Ti'),
    ),
    row(
      'settings.projects[i].cveAllowlist.items[i]',
      'listed twice',
      'list each CVE once',
      {
        settings: {
          projects: [{ name: 'apps', cveAllowlist: { items: ['CVE-2024-3094', 'CVE-2024-3094'] } }],
        },
      },
      line('settings.projects[0].cveAllowlist.items[1]', 'is listed twice'),
    ),
    row(
      'settings.registries[i].url',
      'holds a user name or password',
      'the URL alone; credentials in credential',
      {
        settings: {
          registries: [{ name: 'dr', type: 'harbor', url: 'https://u:pw@dr.example.test' }],
        },
      },
      line('settings.registries[0].url', 'holds a user name or password'),
    ),
    row(
      'settings.authentication.url',
      'not an LDAP URL, or with credentials or a bad port',
      'ldaps://host[:port]; the bind DN in searchDn',
      {
        settings: {
          authentication: {
            type: 'ldap',
            url: 'ldaps://ldap.example.test:99999',
            baseDn: 'dc=example,dc=test',
          },
        },
      },
      line('settings.authentication.url', 'has port 99999'),
    ),
    row(
      'settings.authentication.groupAttributeName',
      'not set with a groupSearchFilter',
      'the attribute of a group name, such as cn',
      {
        settings: {
          authentication: {
            type: 'ldap',
            url: 'ldaps://ldap.example.test',
            baseDn: 'dc=example,dc=test',
            groupSearchFilter: '(objectClass=groupOfNames)',
          },
        },
      },
      line('settings.authentication.groupAttributeName', 'set it, e.g. "cn"'),
    ),
    row(
      'settings.authentication.groupMembershipAttribute',
      'empty with a groupSearchFilter',
      'leave it out for memberof, or set it',
      {
        settings: {
          authentication: {
            type: 'ldap',
            url: 'ldaps://ldap.example.test',
            baseDn: 'dc=example,dc=test',
            groupSearchFilter: '(objectClass=groupOfNames)',
            groupAttributeName: 'cn',
            groupMembershipAttribute: '',
          },
        },
      },
      line('settings.authentication.groupMembershipAttribute', 'is empty with groupSearchFilter'),
    ),
    row(
      'settings.robotTokenDuration',
      'not a whole number from 1',
      'minutes from 1',
      { settings: { robotTokenDuration: 0 } },
      line('settings.robotTokenDuration', '0 is not a whole number from 1'),
    ),
  ],
  argocd: [
    row(
      'argocd.repoURL',
      'not a Git repository URL',
      'https://, ssh:// or git@host:path',
      { argocd: { repoURL: 'git.example.test/platform' } },
      line('argocd.repoURL', '"git.example.test/platform" is not a Git repository URL'),
    ),
    row(
      'argocd.path',
      'not a relative folder',
      'such as clusters/prod/harbor',
      { argocd: { path: '/clusters/harbor' } },
      line('argocd.path', '"/clusters/harbor" is not a folder of the repository'),
    ),
    row(
      'argocd.targetRevision',
      'not a branch, tag or commit',
      'a name without spaces',
      { argocd: { targetRevision: 'main branch' } },
      line('argocd.targetRevision', '"main branch" is not a branch, tag or commit'),
    ),
    row(
      'argocd.argoNamespace',
      'not a DNS label',
      "Argo CD's namespace",
      { argocd: { argoNamespace: 'Argo_CD' } },
      line('argocd.argoNamespace', '"Argo_CD" is not a DNS label'),
    ),
    row(
      'argocd.project',
      'not a Kubernetes object name',
      'the AppProject name',
      { argocd: { project: 'Bad_Project' } },
      line('argocd.project', '"Bad_Project" is not a Kubernetes object name'),
    ),
    row(
      'argocd.server',
      'not a cluster API URL',
      'such as https://kubernetes.default.svc',
      { argocd: { server: 'in-cluster' } },
      line('argocd.server', '"in-cluster" is not a cluster API URL'),
    ),
  ],
};

export const CATALOGUE: readonly Entry[] = Object.entries(AREAS).flatMap(([area, rows]) =>
  rows.map((r) => ({ area, ...r })),
);

/** The message synthesis fails with, or a note that it did not fail. */
function failure(override: Record<string, unknown>): string {
  try {
    synthApp(override);
  } catch (err) {
    return (err as Error).message;
  }
  return '(synthesis succeeded)';
}

/** A message line: `  - <field>: `, where a field may list several, comma-separated. */
const FIELD_LINE = /^ {2}- [a-zA-Z][\w.[\]<>-]*(, [a-zA-Z][\w.[\]<>-]*)*: \S/;

describe('the catalogue of clear errors', () => {
  test.each(CATALOGUE)('$area: $field, $problem', ({ override, message }) => {
    const text = failure(override);

    // one report of the configuration, not a construct's error thrown on its own
    expect(text).toMatch(/^invalid configuration in \w+:\n/);
    expect(text).toMatch(message);
  });

  test('every message line names a field, then the problem', () => {
    const lines = CATALOGUE.flatMap(({ override }) => failure(override).split('\n').slice(1));

    expect(lines.filter((l) => !FIELD_LINE.test(l))).toEqual([]);
  });

  test('reports independent problems together, one line each', () => {
    const text = failure({
      database: { storage: { storageClassName: 'nfs-csi' } },
      redis: { storage: { storageClassName: 'nfs-csi' } },
      nfs: { namespace: 'harbor' },
      trust: { bundleName: 'harbor-bundle' },
      argocd: { path: '/clusters/harbor' },
    });
    const lines = text.split('\n').slice(1);

    expect(lines).toHaveLength(5);
    for (const field of [
      'database.storage.storageClassName',
      'redis.storage.storageClassName',
      'nfs.namespace',
      'trust.bundleName',
      'argocd.path',
    ]) {
      expect(lines.filter((l) => l.startsWith(`  - ${field}: `))).toHaveLength(1);
    }
  });

  test('reports problems of form together before the rest', () => {
    const text = failure({
      logLevel: 'verbose',
      hostname: 'x',
      database: { storage: { size: '5GB' } },
    });

    expect(text.split('\n').slice(1).sort()).toEqual([
      expect.stringMatching(/^ {2}- database\.storage\.size: "5GB" is not a size/),
      expect.stringMatching(/^ {2}- hostname: unknown key/),
      expect.stringMatching(/^ {2}- logLevel: "verbose" is not allowed/),
    ]);
  });

  test('the README lists every entry of the catalogue, and nothing else', () => {
    const doc = path.resolve(__dirname, '..', process.env.ERRORS_DOC ?? 'README.md');
    const rows = errorTableRows(fs.readFileSync(doc, 'utf-8'));
    const key = (field: string, problem: string) => `${field} | ${problem}`;

    expect(rows.sort()).toEqual(CATALOGUE.map((e) => key(e.field, e.problem)).sort());
  });
});

/** The (field, problem) cells of the tables in a document's "### Errors" section. */
function errorTableRows(markdown: string): string[] {
  const lines = markdown.split('\n');
  const start = lines.findIndex((l) => l.trim() === '### Errors');
  if (start < 0) return [];
  const end = lines.findIndex((l, i) => i > start && /^#{1,3} /.test(l));
  return lines
    .slice(start + 1, end < 0 ? undefined : end)
    .filter((l) => l.startsWith('|'))
    .map((l) =>
      l
        .slice(1, -1)
        .split(' | ')
        .map((cell) => cell.trim().replace(/^`(.*)`$/, '$1')),
    )
    .filter(([field]) => field !== 'field' && !/^-+$/.test(field))
    .map(([field, problem]) => `${field} | ${problem}`);
}

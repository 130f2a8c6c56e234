import { K8sObject, containerOf, envOf, find, mountAt, ofKind, synthApp } from '../support/synth';

const EXTERNAL_VAULT = {
  type: 'vault',
  server: 'https://vault.example.test:8200',
  serverCa: { name: 'vault-ca', key: 'ca.crt' },
  setup: { credentials: { name: 'vault-setup-token', key: 'token' } },
  // the profile's in-cluster server is replaced by the one that exists
  inClusterServer: null,
};

function errorOf(override: Record<string, unknown>): string {
  try {
    synthApp(override);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('expected the configuration to be refused');
}

function setupJob(objects: K8sObject[]): K8sObject {
  const jobs = ofKind(objects, 'Job').filter((j) => j.metadata.name.includes('vault-pki-setup'));
  expect(jobs).toHaveLength(1);
  return jobs[0];
}

/** The plain env of the setup Job's Vault container. */
function setupEnv(objects: K8sObject[]): Record<string, string> {
  const job = setupJob(objects);
  const container = job.spec.template.spec.initContainers[0];
  return Object.fromEntries(
    (container.env ?? [])
      .filter((e: K8sObject) => e.value !== undefined)
      .map((e: K8sObject) => [e.name, e.value]),
  );
}

describe('the TLS chain of the non-production profile', () => {
  const { objects } = synthApp();

  test("issues Harbor's certificate from the Vault issuer, with no ingress-shim", () => {
    const certificate = find(objects, 'Certificate', 'harbor-tls');
    const ingress = find(objects, 'Ingress', 'harbor');

    expect(certificate.spec.issuerRef).toEqual({
      group: 'cert-manager.io',
      kind: 'Issuer',
      name: 'harbor-vault',
    });
    expect(certificate.spec.dnsNames).toEqual(ingress.spec.tls[0].hosts);
    expect(ingress.spec.tls[0].secretName).toBe(certificate.spec.secretName);
    // an explicit Certificate: no annotation asks ingress-shim for a second one (field failure 28)
    const annotations = Object.keys(ingress.metadata.annotations ?? {});
    expect(annotations.filter((a) => a.startsWith('cert-manager.io/'))).toEqual([]);
  });

  test('points the issuer at the in-cluster Vault and trusts its listener CA', () => {
    const issuer = find(objects, 'Issuer', 'harbor-vault').spec.vault;
    const holder = find(objects, 'Certificate', 'harbor-vault-ca');
    const listener = find(objects, 'Certificate', 'harbor-vault-tls');

    expect(issuer.server).toBe('https://harbor-vault.vault.svc:8200');
    expect(issuer.caBundleSecretRef).toEqual({ name: 'harbor-vault-ca', key: 'ca.crt' });
    expect(holder.metadata.namespace).toBe('harbor');
    // the holder's ca.crt is the CA that signed Vault's listener certificate
    expect(holder.spec.issuerRef).toEqual(listener.spec.issuerRef);
    expect(listener.spec.dnsNames).toContain('harbor-vault.vault.svc');
  });

  test('sets up the PKI for the issuer it serves', () => {
    const issuer = find(objects, 'Issuer', 'harbor-vault').spec.vault;
    const env = setupEnv(objects);
    const job = setupJob(objects);
    const vault = job.spec.template.spec.initContainers[0];

    expect(job.metadata.namespace).toBe('vault');
    expect(envOf(vault, 'VAULT_TOKEN')).toEqual({ name: 'harbor-vault-init', key: 'root-token' });
    expect(
      `${env.PKI_INT_MOUNT ?? env.INTERMEDIATE_MOUNT}/sign/${env.PKI_ROLE ?? env.ROLE_NAME}`,
    ).toBe(issuer.path);
    expect(env.PKI_ROLE_ARGS).toMatch(/^allowed_domains=harbor\.example\.test$/m);
    expect(env.PKI_ROLE_ARGS).toMatch(/^max_ttl=2160h$/m);
    // the Kubernetes auth role accepts exactly the token cert-manager presents (24)
    expect(env.K8S_AUTH_ROLE_ARGS).toMatch(/^bound_service_account_names=harbor-vault-issuer$/m);
    expect(env.K8S_AUTH_ROLE_ARGS).toMatch(/^bound_service_account_namespaces=harbor$/m);
    expect(env.K8S_AUTH_ROLE_ARGS).toMatch(/^audience=vault:\/\/harbor\/harbor-vault$/m);
    expect(issuer.auth.kubernetes.serviceAccountRef.name).toBe('harbor-vault-issuer');
  });

  test('publishes the root that the trust bundle distributes', () => {
    const bundle = find(objects, 'Bundle', 'harbor-ca');

    expect(bundle.spec.sources).toEqual([
      { configMap: { name: 'harbor-vault-root-ca', key: 'ca.crt' } },
    ]);
    expect(JSON.stringify(setupJob(objects))).toContain('harbor-vault-root-ca');
    // no Certificate Secret's ca.crt is a trust anchor (field failure 31)
    expect(bundle.spec.sources.some((s: K8sObject) => s.secret?.name === 'harbor-tls')).toBe(false);
  });

  test('delivers the bundle to Harbor and the node trust namespace only', () => {
    const bundle = find(objects, 'Bundle', 'harbor-ca');
    const selector = bundle.spec.target.namespaceSelector.matchLabels;
    const labelled = ofKind(objects, 'Namespace')
      .filter((n) => Object.entries(selector).every(([k, v]) => n.metadata.labels?.[k] === v))
      .map((n) => n.metadata.name);

    expect(Object.keys(selector)).toHaveLength(1);
    expect(labelled.sort()).toEqual(['harbor', 'harbor-node-trust']);
  });

  test("feeds Harbor's own trust and the CA download from the bundle", () => {
    const core = find(objects, 'Deployment', 'harbor-core');
    const trust = mountAt(core, containerOf(core, 'core'), '/harbor_cust_cert/custom-ca.crt');
    const download = mountAt(core, containerOf(core, 'core'), '/etc/core/ca');

    expect(trust?.volume.configMap.name).toBe('harbor-ca');
    expect(download?.volume.configMap.name).toBe('harbor-ca');
  });

  test('writes the CA onto the nodes from the bundle ConfigMap, keyed by the host', () => {
    const daemonSet = find(objects, 'DaemonSet', 'harbor-node-trust');
    const volumes = daemonSet.spec.template.spec.volumes;

    expect(daemonSet.metadata.namespace).toBe('harbor-node-trust');
    expect(volumes.some((v: K8sObject) => v.configMap?.name === 'harbor-ca')).toBe(true);
    const container = daemonSet.spec.template.spec.containers[0];
    expect(envOf(container, 'REGISTRY')).toBe('harbor.example.test');
  });
});

describe('the TLS chain from configuration', () => {
  test('keys node trust by host:port off 443 (field failure 22)', () => {
    const { objects } = synthApp({ port: 30003 });

    const container = find(objects, 'DaemonSet', 'harbor-node-trust').spec.template.spec
      .containers[0];

    expect(envOf(container, 'REGISTRY')).toBe('harbor.example.test:30003');
  });

  test('uses an existing Vault with a setup Job in Harbor namespace', () => {
    const { objects } = synthApp({ tls: EXTERNAL_VAULT });

    const issuer = find(objects, 'Issuer', 'harbor-vault').spec.vault;
    const job = setupJob(objects);

    expect(ofKind(objects, 'StatefulSet').map((s) => s.metadata.name)).not.toContain(
      'harbor-vault',
    );
    expect(issuer.server).toBe('https://vault.example.test:8200');
    expect(issuer.caBundleSecretRef).toEqual({ name: 'vault-ca', key: 'ca.crt' });
    expect(job.metadata.namespace).toBe('harbor');
    expect(envOf(job.spec.template.spec.initContainers[0], 'VAULT_TOKEN')).toEqual({
      name: 'vault-setup-token',
      key: 'token',
    });
  });

  test('needs setup credentials for an existing Vault', () => {
    expect(errorOf({ tls: { ...EXTERNAL_VAULT, setup: {} } })).toMatch(
      /tls\.setup\.credentials: is missing; name the Secret key with a Vault token/,
    );
  });

  test('needs the root CA when nothing sets up the PKI (field failure 31)', () => {
    expect(errorOf({ tls: { ...EXTERNAL_VAULT, setup: null } })).toMatch(
      /tls\.rootCa: root CA bundle required/,
    );

    const { objects } = synthApp({
      tls: { ...EXTERNAL_VAULT, setup: null, rootCa: { name: 'corp-root' } },
    });

    expect(ofKind(objects, 'Job').some((j) => j.metadata.name.includes('pki-setup'))).toBe(false);
    expect(find(objects, 'Bundle', 'harbor-ca').spec.sources).toEqual([
      { configMap: { name: 'corp-root', key: 'ca.crt' } },
    ]);
  });

  test("refuses a lifetime longer than the Vault role's max_ttl (field failure 30)", () => {
    expect(errorOf({ tls: { maxDuration: '720h', duration: '2160h' } })).toMatch(
      /tls\.duration: "2160h" exceeds the longest lifetime issuer "harbor-vault" grants \("720h"/,
    );
  });

  test('renews a short certificate a third of its life early (field failure 32)', () => {
    const { objects } = synthApp({ tls: { duration: '24h', renewBefore: null } });

    expect(find(objects, 'Certificate', 'harbor-tls').spec).toMatchObject({
      duration: '24h',
      renewBefore: '480m',
    });
  });

  test('runs exactly one of an existing and an in-cluster Vault', () => {
    expect(errorOf({ tls: { server: 'https://vault.example.test:8200', serverCa: null } })).toMatch(
      /tls: needs exactly one of server .* and inClusterServer/,
    );
  });

  test('refuses a malformed Vault URL with the field named (field failure 32)', () => {
    expect(
      errorOf({ tls: { ...EXTERNAL_VAULT, server: 'https://vault.example.test::8200' } }),
    ).toMatch(/tls\.server: "https:\/\/vault\.example\.test::8200" is an invalid Vault server URL/);
  });

  test('keeps a ClusterIssuer account in the cluster resource namespace', () => {
    const { objects } = synthApp({ tls: { ...EXTERNAL_VAULT, issuerKind: 'ClusterIssuer' } });

    const env = setupEnv(objects);

    expect(find(objects, 'ClusterIssuer', 'harbor-vault').metadata.namespace).toBeUndefined();
    expect(find(objects, 'ServiceAccount', 'harbor-vault-issuer').metadata.namespace).toBe(
      'cert-manager',
    );
    expect(env.K8S_AUTH_ROLE_ARGS).toMatch(/^audience=vault:\/\/harbor-vault$/m);
  });

  test('obtains an ACME certificate through the ingress class, with no CA to distribute', () => {
    const { objects } = synthApp({
      tls: {
        type: 'acme',
        server: 'https://acme.example.test/directory',
        email: 'ops@example.test',
      },
    });

    const issuer = find(objects, 'Issuer', 'harbor-acme');
    const core = find(objects, 'Deployment', 'harbor-core');

    expect(issuer.spec.acme.solvers).toEqual([
      { http01: { ingress: { ingressClassName: 'nginx' } } },
    ]);
    expect(find(objects, 'Certificate', 'harbor-tls').spec.issuerRef.name).toBe('harbor-acme');
    // ACME Secrets carry no ca.crt: nothing may be keyed on it
    expect(ofKind(objects, 'Bundle')).toEqual([]);
    expect(ofKind(objects, 'DaemonSet').map((d) => d.metadata.name)).not.toContain(
      'harbor-node-trust',
    );
    expect(mountAt(core, containerOf(core, 'core'), '/etc/core/ca')).toBeUndefined();
  });

  test('takes DNS-01 for a private host, but not both solvers', () => {
    const acme = { type: 'acme', server: 'https://acme.example.test/dir', email: 'a@example.test' };
    const dns01 = {
      rfc2136: {
        nameserver: 'ns1.example.test:53',
        tsigKeyName: 'harbor',
        tsigSecret: { name: 'tsig', key: 'secret' },
      },
    };

    const { objects } = synthApp({ tls: { ...acme, dns01 } });

    expect(find(objects, 'Issuer', 'harbor-acme').spec.acme.solvers[0].dns01.rfc2136).toEqual({
      nameserver: 'ns1.example.test:53',
      tsigKeyName: 'harbor',
      tsigSecretSecretRef: { name: 'tsig', key: 'secret' },
    });
    expect(errorOf({ tls: { ...acme, dns01, http01: {} } })).toMatch(
      /tls: takes one of http01 and dns01/,
    );
  });

  test('distributes a private CA of a provided certificate only when named', () => {
    const secret = { type: 'secret', secretName: 'registry-tls' };

    const bare = synthApp({ tls: secret }).objects;
    const named = synthApp({
      tls: secret,
      trust: { extraSources: [{ kind: 'ConfigMap', name: 'corp-root' }] },
    }).objects;

    expect(ofKind(bare, 'Bundle')).toEqual([]);
    expect(find(named, 'Bundle', 'harbor-ca').spec.sources).toEqual([
      { configMap: { name: 'corp-root', key: 'ca.crt' } },
    ]);
    expect(find(named, 'DaemonSet', 'harbor-node-trust').metadata.namespace).toBe(
      'harbor-node-trust',
    );
  });

  test('drops the bundle and node trust with trust set to null', () => {
    const { objects } = synthApp({ trust: null });

    expect(ofKind(objects, 'Bundle')).toEqual([]);
    expect(ofKind(objects, 'DaemonSet').map((d) => d.metadata.name)).not.toContain(
      'harbor-node-trust',
    );
  });

  test('renders a k3s registries.yaml ConfigMap on request (field failure 44)', () => {
    const { objects } = synthApp({ trust: { nodes: { rancher: 'k3s' } } });

    const config = ofKind(objects, 'ConfigMap').find((c) => c.metadata.name.endsWith('registries'));

    expect(config?.metadata.namespace).toBe('harbor-node-trust');
    expect(Object.values(config?.data ?? {}).join()).toMatch(/harbor\.example\.test/);
  });

  test('keeps Vault and node trust out of Harbor namespace', () => {
    expect(errorOf({ tls: { inClusterServer: { namespace: 'harbor' } } })).toMatch(
      /tls\.inClusterServer\.namespace: "harbor" is Harbor's namespace/,
    );
    expect(errorOf({ trust: { nodes: { namespace: 'harbor' } } })).toMatch(
      /trust\.nodes\.namespace: "harbor" is Harbor's namespace/,
    );
  });

  test('refuses an IP address as the host (field failure 34)', () => {
    expect(errorOf({ host: '192.0.2.10' })).toMatch(/host: "192\.0\.2\.10"/);
  });

  test('keeps the Vault data off the NFS class', () => {
    expect(
      errorOf({ tls: { inClusterServer: { storage: { storageClassName: 'nfs-csi' } } } }),
    ).toMatch(/tls\.inClusterServer\.storage\.storageClassName: "nfs-csi"/);
  });

  test('reports problems of several sections together', () => {
    const message = errorOf({
      tls: { maxDuration: '720h', duration: '2160h', inClusterServer: { namespace: 'harbor' } },
      trust: { nodes: { namespace: 'harbor' } },
    });

    expect(message).toMatch(/tls\.duration/);
    expect(message).toMatch(/tls\.inClusterServer\.namespace/);
    expect(message).toMatch(/trust\.nodes\.namespace/);
  });
});

describe('the TLS chain refuses', () => {
  test.each([
    [{ namespace: 'cert-manager' }, /namespace: "cert-manager" is cert-manager's namespace/],
    [
      { tls: { inClusterServer: { namespace: 'cert-manager' } } },
      /tls\.inClusterServer\.namespace: "cert-manager" is cert-manager's namespace/,
    ],
    [
      { trust: { nodes: { namespace: 'csi-nfs' } } },
      /trust\.nodes\.namespace: "csi-nfs" is the NFS driver's namespace/,
    ],
    [
      { trust: { nodes: { namespace: 'vault' } } },
      /trust\.nodes\.namespace: "vault" is the namespace tls\.inClusterServer\.namespace names/,
    ],
    [
      { trust: { nodes: { namespace: 'kube-system' } } },
      /trust\.nodes\.namespace: "kube-system" is a namespace Kubernetes owns/,
    ],
  ])('a namespace that belongs to something else: %j', (override, message) => {
    expect(errorOf(override)).toMatch(message);
  });

  test('a bundle name that may clash with our own ConfigMaps', () => {
    expect(errorOf({ trust: { bundleName: 'harbor-core' } })).toMatch(
      /trust\.bundleName: "harbor-core" starts with "harbor-"/,
    );
    expect(
      find(synthApp({ trust: { bundleName: 'corp-ca' } }).objects, 'Bundle', 'corp-ca'),
    ).toBeDefined();
  });

  test.each([
    [{ images: { registry: 'harbor.example.test:443/mirror' } }, /images\.registry: /],
    [
      { trust: { nodes: { image: 'harbor.example.test/library/busybox:1.36' } } },
      /trust\.nodes\.image: /,
    ],
    [
      { tls: { inClusterServer: { image: 'harbor.example.test/hashicorp/vault:2.0.4' } } },
      /tls\.inClusterServer\.image: /,
    ],
  ])('images pulled from the Harbor being deployed: %j', (override, field) => {
    const message = errorOf(override);

    expect(message).toMatch(field);
    expect(message).toMatch(/is on harbor\.example\.test, the Harbor this configuration deploys/);
  });

  test('a CA that ends before the certificates it signs', () => {
    expect(errorOf({ tls: { type: 'selfSigned', ca: { duration: '2h' } } })).toMatch(
      /tls\.ca\.duration: "2h" is not longer than tls\.duration "2160h"/,
    );
  });

  test('a new in-cluster Vault without its setup, and settings the setup would ignore', () => {
    expect(errorOf({ tls: { setup: null } })).toMatch(
      /tls\.setup: is null, but a new in-cluster Vault has no PKI/,
    );
    expect(
      errorOf({
        tls: {
          ...EXTERNAL_VAULT,
          setup: { ...EXTERNAL_VAULT.setup, kubernetesHost: 'https://k8s.example.test' },
        },
      }),
    ).toMatch(
      /tls\.setup\.kubernetesHost: is only written with tls\.setup\.configureKubernetesAuth true/,
    );
  });

  test('node trust pauses outside 10 seconds to a day, in the words written', () => {
    expect(errorOf({ trust: { nodes: { interval: '0s' } } })).toMatch(
      /trust\.nodes\.interval: "0s" is not a pause from 10 seconds to a day/,
    );
  });

  test('construct problems under the settings the user wrote', () => {
    const message = errorOf({
      tls: { mount: 'a'.repeat(300) },
      trust: { nodes: { containerdCertsDir: 'relative/certs.d' } },
    });

    expect(message).toMatch(/tls\.mount: "a{300}"/);
    expect(message).toMatch(/trust\.nodes\.containerdCertsDir: "relative\/certs\.d"/);
  });
});

describe('the TLS chain also', () => {
  test('lets a short Vault role work with the setup Job', () => {
    const { objects } = synthApp({
      tls: { maxDuration: '168h', duration: '48h', renewBefore: null },
    });

    expect(setupEnv(objects).PKI_ROLE_ARGS).toMatch(/^max_ttl=168h$/m);
    expect(setupEnv(objects).PKI_ROLE_ARGS).toMatch(/^ttl=168h$/m);
  });

  test('leaves k3s nodes their own containerd, writing only the Rancher CA path', () => {
    const { objects } = synthApp({ trust: { nodes: { rancher: 'k3s' } } });

    const container = find(objects, 'DaemonSet', 'harbor-node-trust').spec.template.spec
      .containers[0];

    expect(envOf(container, 'CONTAINERD_CERTS_DIR')).toBe('');
    expect(envOf(container, 'DOCKER_CERTS_DIR')).toBe('');
    expect(envOf(container, 'RANCHER_CERTS_DIR')).toBe('/etc/rancher/k3s/certs');
  });

  test('labels Harbor namespace for a bundle only when there is one', () => {
    const acme = { type: 'acme', server: 'https://acme.example.test/dir', email: 'a@example.test' };

    const labels = find(synthApp({ tls: acme }).objects, 'Namespace', 'harbor').metadata.labels;

    expect(Object.keys(labels).filter((k) => k.startsWith('trust.'))).toEqual([]);
  });
});

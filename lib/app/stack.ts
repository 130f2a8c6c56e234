import { App, Chart, YamlOutputType } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { HarborConfig } from './config';
import { LogLevel, SecretKeyRef } from '../harbor/common';
import { HarborDatabase, DatabaseSslMode } from '../harbor/database';
import { Harbor } from '../harbor/harbor';
import { HarborTls } from '../harbor/ingress';
import { AccessMode } from '../harbor/persistence';
import { HarborRedis } from '../harbor/redis';
import { TrivySeverity } from '../harbor/trivy';
import { IssuerKind } from '../pki/issuer-ref';
import { SelfSignedCa } from '../pki/self-signed-ca';
import { ConfigurationError } from '../private/validation';

/** What the app built, for its summary and for tests. */
export interface Stack {
  readonly app: App;
  readonly harbor: Harbor;
  readonly ca?: SelfSignedCa;
}

const accessMode = (mode?: string) => mode as AccessMode | undefined;

/**
 * Composes the whole platform from a validated configuration. Charts depend on each other in
 * apply order, so cdk8s numbers the files and `kubectl apply -f dist/` follows them.
 */
export function buildStack(config: HarborConfig, outdir: string): Stack {
  const app = new App({ outdir, yamlOutputType: YamlOutputType.FILE_PER_CHART });
  const namespace = config.namespace;

  const base = new Chart(app, 'namespace', { disableResourceNameHashes: true });
  new kplus.Namespace(base, 'Namespace', {
    metadata: {
      name: namespace,
      labels: { 'app.kubernetes.io/part-of': 'harbor' },
      // deleting the Argo CD Application must not take the data claims and Secrets with it
      annotations: { 'argocd.argoproj.io/sync-options': 'Delete=false' },
    },
  });

  // the issuers get a file of their own only when there are any, so no file is ever empty
  let chart: Chart = base;
  const pki = () => {
    const pkiChart = new Chart(app, 'pki', { namespace, disableResourceNameHashes: true });
    pkiChart.addDependency(base);
    chart = pkiChart;
    return pkiChart;
  };
  let ca: SelfSignedCa | undefined;
  let tls: HarborTls;
  let caBundle: SecretKeyRef | undefined = config.caBundle;
  switch (config.tls.type) {
    case 'selfSigned':
      if (config.caBundle) {
        throw new ConfigurationError('configuration', [
          'caBundle: with tls.type selfSigned Harbor' +
            ' trusts the self-signed root; remove caBundle or choose tls.type issuer or secret',
        ]);
      }
      ca = new SelfSignedCa(pki(), 'SelfSignedCa', {
        name: `${config.instance}-ca`,
        commonName: config.tls.ca?.commonName,
        organization: config.tls.ca?.organization,
        duration: config.tls.ca?.duration,
      });
      tls = HarborTls.fromIssuer(ca.issuer, config.tls);
      caBundle = ca.caBundle;
      break;
    case 'issuer':
      tls = HarborTls.fromIssuer(
        { name: config.tls.name, kind: config.tls.kind as IssuerKind | undefined },
        config.tls,
      );
      break;
    case 'secret':
      tls = HarborTls.fromSecret(config.tls.secretName);
      break;
  }

  const harborChart = new Chart(app, 'harbor', { namespace, disableResourceNameHashes: true });
  harborChart.addDependency(chart);
  const db = config.database;
  const redis = config.redis;
  const trivy = config.trivy;
  const harbor = new Harbor(harborChart, 'Harbor', {
    instance: config.instance,
    host: config.host,
    port: config.port,
    tls,
    caBundle,
    images: config.images,
    registryStorage: {
      ...config.registryStorage,
      accessMode: accessMode(config.registryStorage.accessMode),
    },
    nfsStorageClasses: config.nfsStorageClasses,
    database:
      db.type === 'internal'
        ? HarborDatabase.internal({
            ...db,
            storage: { ...db.storage, accessMode: accessMode(db.storage.accessMode) },
          })
        : HarborDatabase.external({ ...db, sslMode: db.sslMode as DatabaseSslMode | undefined }),
    redis:
      redis.type === 'internal'
        ? HarborRedis.internal({
            ...redis,
            storage: { ...redis.storage, accessMode: accessMode(redis.storage.accessMode) },
          })
        : HarborRedis.external(redis),
    trivy: trivy.enabled
      ? {
          storage: { ...trivy.storage, accessMode: accessMode(trivy.storage.accessMode) },
          allowNfs: trivy.allowNfs,
          ignoreUnfixed: trivy.ignoreUnfixed,
          severities: trivy.severities as TrivySeverity[] | undefined,
          resources: trivy.resources,
        }
      : undefined,
    existingSecrets: config.existingSecrets,
    replicas: config.replicas,
    ingressClassName: config.ingressClassName,
    logLevel: config.logLevel as LogLevel,
    ipv6: config.ipv6,
  });

  return { app, harbor, ca };
}

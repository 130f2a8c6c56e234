import { App, Chart, YamlOutputType } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { HarborConfig } from './config';
import { LogLevel } from '../harbor/common';
import { HarborDatabase, DatabaseSslMode } from '../harbor/database';
import { Harbor, HarborProps } from '../harbor/harbor';
import { HarborTls } from '../harbor/ingress';
import { AccessMode } from '../harbor/persistence';
import { HarborRedis } from '../harbor/redis';
import { TrivySeverity } from '../harbor/trivy';
import { IssuerKind } from '../pki/issuer-ref';
import { CaRefs, SelfSignedCa, SelfSignedCaProps } from '../pki/self-signed-ca';
import { Problems } from '../private/validation';

/** What the app built, for its summary and for tests. */
export interface Stack {
  readonly app: App;
  readonly harbor: Harbor;
  readonly ca?: SelfSignedCa;
}

/** The props of the Harbor construct that a configuration describes. */
function harborProps(config: HarborConfig, ca?: CaRefs): HarborProps {
  const db = config.database;
  const redis = config.redis;
  const trivy = config.trivy;
  let tls: HarborTls;
  switch (config.tls.type) {
    case 'selfSigned':
      tls = HarborTls.fromIssuer(ca!.issuer, config.tls);
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
  const withMode = <T extends { accessMode?: string }>(storage: T) => ({
    ...storage,
    accessMode: storage.accessMode as AccessMode | undefined,
  });
  return {
    instance: config.instance,
    host: config.host,
    port: config.port,
    tls,
    caBundle: ca?.caBundle ?? config.caBundle,
    images: config.images,
    registryStorage: withMode(config.registryStorage),
    nfsStorageClasses: config.nfsStorageClasses,
    database:
      db.type === 'internal'
        ? HarborDatabase.internal({ ...db, storage: withMode(db.storage) })
        : HarborDatabase.external({ ...db, sslMode: db.sslMode as DatabaseSslMode | undefined }),
    redis:
      redis.type === 'internal'
        ? HarborRedis.internal({ ...redis, storage: withMode(redis.storage) })
        : HarborRedis.external(redis),
    trivy: trivy.enabled
      ? {
          storage: withMode(trivy.storage),
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
  };
}

/**
 * Composes the whole platform from a validated configuration. Charts depend on each other in
 * apply order, so cdk8s numbers the files and `kubectl apply -f dist/` follows them.
 */
export function buildStack(config: HarborConfig, outdir: string, source = 'configuration'): Stack {
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

  const problems = new Problems();
  const selfSigned = config.tls.type === 'selfSigned' ? config.tls : undefined;
  const caProps: SelfSignedCaProps | undefined = selfSigned && {
    name: `${config.instance}-ca`,
    commonName: selfSigned.ca?.commonName,
    organization: selfSigned.ca?.organization,
    duration: selfSigned.ca?.duration,
  };
  if (caProps) {
    problems.addAll(SelfSignedCa.check({ ...caProps, name: 'ca' }, 'tls.ca.'));
    problems.check(
      config.caBundle === undefined,
      'caBundle',
      'with tls.type selfSigned Harbor trusts the self-signed root; remove caBundle or choose' +
        ' tls.type issuer or secret',
    );
  }
  problems.addAll(Harbor.check(harborProps(config, caProps && SelfSignedCa.refsOf(caProps.name))));
  problems.throwIfAny(`configuration in ${source}`);

  // the issuers get a file of their own only when there are any, so no file is ever empty
  let before: Chart = base;
  let ca: SelfSignedCa | undefined;
  if (caProps) {
    const pki = new Chart(app, 'pki', { namespace, disableResourceNameHashes: true });
    pki.addDependency(base);
    before = pki;
    ca = new SelfSignedCa(pki, 'SelfSignedCa', caProps);
  }

  const chart = new Chart(app, 'harbor', { namespace, disableResourceNameHashes: true });
  chart.addDependency(before);
  const harbor = new Harbor(chart, 'Harbor', harborProps(config, ca));

  return { app, harbor, ca };
}

import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { expectValidObjects, loadYamlDir, validateObjects } from './support/schema';

// Fixtures are built fresh per test so a mutation in one case cannot leak into another.
function deployment(): any {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'harbor-core', namespace: 'harbor', labels: { app: 'harbor-core' } },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: 'harbor-core' } },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: 0 } },
      template: {
        metadata: { labels: { app: 'harbor-core' } },
        spec: {
          containers: [
            {
              name: 'core',
              image: 'goharbor/harbor-core:v2.13.0',
              imagePullPolicy: 'IfNotPresent',
              ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }],
              resources: {
                requests: { cpu: '500m', memory: '256Mi' },
                limits: { cpu: 1, memory: '1Gi' },
              },
              readinessProbe: { httpGet: { path: '/api/v2.0/ping', port: 'http' } },
              securityContext: { runAsNonRoot: true, runAsUser: 10000 },
            },
          ],
          volumes: [{ name: 'config', configMap: { name: 'harbor-core', defaultMode: 420 } }],
        },
      },
    },
  };
}

function certificate(): any {
  return {
    apiVersion: 'cert-manager.io/v1',
    kind: 'Certificate',
    metadata: { name: 'harbor-tls', namespace: 'harbor', labels: { app: 'harbor' } },
    spec: {
      secretName: 'harbor-tls',
      dnsNames: ['harbor.example.internal'],
      duration: '2160h',
      privateKey: { algorithm: 'ECDSA', size: 256, rotationPolicy: 'Always' },
      issuerRef: { name: 'internal-ca', kind: 'ClusterIssuer', group: 'cert-manager.io' },
    },
  };
}

function service(targetPort: number | string): any {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'harbor-core', namespace: 'harbor' },
    spec: {
      selector: { app: 'harbor-core' },
      ports: [{ name: 'http', port: 80, targetPort }],
    },
  };
}

describe('validateObjects', () => {
  test('a valid Deployment passes against 1.27 and 1.36', () => {
    expect(validateObjects([deployment()])).toEqual([]);
    expect(() => expectValidObjects([deployment()])).not.toThrow();
  });

  test('an unknown container field fails for both versions, naming object and path', () => {
    const obj = deployment();
    obj.spec.template.spec.containers[0].imagePullPolcy = 'Always';

    const problem = '/spec/template/spec/containers/0/imagePullPolcy: unknown field';
    expect(validateObjects([obj])).toEqual([
      `k8s 1.27: Deployment harbor/harbor-core: ${problem}`,
      `k8s 1.36: Deployment harbor/harbor-core: ${problem}`,
    ]);
    expect(() => expectValidObjects([obj])).toThrow(/harbor-core: .*imagePullPolcy/);
  });

  test('a container without a name fails as a missing required field', () => {
    const obj = deployment();
    delete obj.spec.template.spec.containers[0].name;

    expect(validateObjects([obj])).toEqual(
      ['1.27', '1.36'].map(
        (version) =>
          `k8s ${version}: Deployment harbor/harbor-core: ` +
          '/spec/template/spec/containers/0/name: missing required field',
      ),
    );
  });

  test('wrong types and enum values are reported', () => {
    const obj = deployment();
    obj.spec.replicas = '2';
    const cert = certificate();
    // the built-in schemas carry no enums (only in descriptions); CRDs do
    cert.spec.privateKey.algorithm = 'DSA';

    const errors = validateObjects([obj, cert]).join('\n');

    expect(errors).toMatch(/harbor-core: \/spec\/replicas: must be integer, got "2"/);
    expect(errors).toMatch(/harbor-tls: \/spec\/privateKey\/algorithm: must be one of "RSA"/);
  });

  test('int-or-string ports accept a name and a number, but not a boolean', () => {
    expect(validateObjects([service('http'), service(8080)])).toEqual([]);

    expect(validateObjects([service(true as any)])).toContain(
      'k8s 1.27: Service harbor/harbor-core: /spec/ports/0/targetPort: ' +
        'must be string or integer, got true',
    );
  });

  test('quantities accept strings and numbers', () => {
    const obj = deployment();
    obj.spec.template.spec.containers[0].resources = {
      requests: { cpu: '500m', memory: 268435456 },
      limits: { cpu: 1, memory: '1Gi' },
    };

    expect(validateObjects([obj])).toEqual([]);
  });

  test('a pod failure policy rule on exit codes alone passes, despite the 1.27 schema', () => {
    const job = {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name: 'harbor-secrets', namespace: 'harbor' },
      spec: {
        podFailurePolicy: {
          rules: [{ action: 'FailJob', onExitCodes: { operator: 'In', values: [2] } }],
        },
        template: {
          spec: { restartPolicy: 'Never', containers: [{ name: 'main', image: 'python:3' }] },
        },
      },
    };

    expect(validateObjects([job])).toEqual([]);
  });

  test('base64 and date-time formats are checked', () => {
    const secret = {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 's', namespace: 'harbor', creationTimestamp: '2024-01-02T03:04:05Z' },
      data: { good: Buffer.from('hello').toString('base64'), bad: 'not base64!' },
    };

    expect(validateObjects([secret])).toEqual([
      'k8s 1.27: Secret harbor/s: /data/bad: must match format "byte", got "not base64!"',
      'k8s 1.36: Secret harbor/s: /data/bad: must match format "byte", got "not base64!"',
    ]);
  });

  test('a valid cert-manager Certificate passes', () => {
    expect(validateObjects([certificate()])).toEqual([]);
  });

  test('an unknown Certificate spec field fails against the CRD', () => {
    const obj = certificate();
    obj.spec.dnsName = 'typo.example.internal';

    expect(validateObjects([obj])).toEqual([
      'crd certificates.cert-manager.io/v1: Certificate harbor/harbor-tls: ' +
        '/spec/dnsName: unknown field',
    ]);
  });

  test('a typo in Certificate metadata fails against ObjectMeta', () => {
    const obj = certificate();
    obj.metadata.lables = { app: 'harbor' };

    expect(validateObjects([obj])).toEqual([
      'k8s 1.27: Certificate harbor/harbor-tls: /metadata/lables: unknown field',
      'k8s 1.36: Certificate harbor/harbor-tls: /metadata/lables: unknown field',
    ]);
  });

  test('a cluster-scoped custom kind must not carry a namespace', () => {
    const issuer: any = {
      apiVersion: 'cert-manager.io/v1',
      kind: 'ClusterIssuer',
      metadata: { name: 'internal-ca', namespace: 'cert-manager' },
      spec: { ca: { secretName: 'internal-ca' } },
    };

    expect(validateObjects([issuer]).join('\n')).toMatch(/cluster-scoped/);

    delete issuer.metadata.namespace;
    expect(validateObjects([issuer])).toEqual([]);
  });

  test('fields Kubernetes keeps verbatim stay open, their neighbours stay closed', () => {
    const app: any = {
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'Application',
      metadata: { name: 'harbor', namespace: 'argocd' },
      spec: {
        project: 'default',
        destination: { server: 'https://kubernetes.default.svc', namespace: 'harbor' },
        source: {
          repoURL: 'https://example.internal/charts.git',
          // valuesObject is x-kubernetes-preserve-unknown-fields: anything goes below it
          helm: { valuesObject: { anything: { nested: [1, 'two'] } } },
        },
      },
    };
    expect(validateObjects([app])).toEqual([]);

    app.spec.source.helm.valuesObjekt = {};
    expect(validateObjects([app])).toEqual([
      'crd applications.argoproj.io/v1alpha1: Application argocd/harbor: ' +
        '/spec/source/helm/valuesObjekt: unknown field',
    ]);
  });

  test('CRD defaults apply before validation, as in the API server', () => {
    // without the defaulted `type: IPAddress` this address matches both arms of a oneOf
    const gateway = {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'Gateway',
      metadata: { name: 'gw', namespace: 'harbor' },
      spec: {
        gatewayClassName: 'traefik',
        addresses: [{ value: '10.0.0.10' }],
        listeners: [{ name: 'https', port: 443, protocol: 'HTTPS' }],
      },
    };

    expect(validateObjects([gateway])).toEqual([]);
    expect(gateway.spec.addresses[0]).toEqual({ value: '10.0.0.10' });
  });

  test('an unknown kind fails with a hint to regenerate the bundles', () => {
    const errors = validateObjects([
      { apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' } },
    ]);

    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/Widget w: .*scripts\/derive-schemas\.js.*npm run schemas/);
  });

  test('objects without apiVersion or kind are errors', () => {
    expect(validateObjects([{ metadata: { name: 'x' } }, 'text'])).toHaveLength(2);
  });
});

describe('loadYamlDir', () => {
  test('reads every *.yaml below a directory in path order, skipping empty documents', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'schema-test-'));
    try {
      fs.mkdirSync(path.join(dir, 'b'));
      fs.writeFileSync(path.join(dir, 'b', 'two.yaml'), 'kind: C\n');
      fs.writeFileSync(path.join(dir, 'a.yaml'), 'kind: A\n---\n---\nkind: B\n');
      fs.writeFileSync(path.join(dir, 'ignored.json'), '{}');

      expect(loadYamlDir(dir).map((o) => o.kind)).toEqual(['A', 'B', 'C']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

import * as checks from '../../lib/private/checks';
import { synthApp } from '../support/synth';

const ok = (check: checks.Check<string>, ...values: string[]) =>
  values.forEach((v) => expect([v, check(v)]).toEqual([v, undefined]));
const bad = (check: checks.Check<string>, ...values: string[]) =>
  values.forEach((v) => expect([v, check(v)]).toEqual([v, expect.any(String)]));

describe('value checks', () => {
  test('namespaces are DNS labels that Kubernetes does not own', () => {
    ok(checks.namespace, 'harbor', 'registry-1');
    bad(
      checks.namespace,
      'harbor.prod',
      'a..b',
      'x'.repeat(64),
      'kube-system',
      'default',
      'Harbor',
    );
  });

  test('object names are DNS subdomains', () => {
    ok(checks.objectName, 'nfs-csi', 'fast.block', 'a');
    bad(checks.objectName, 'nfs..csi', 'nfs.-csi', 'has space', '', 'x'.repeat(254), 'Upper');
  });

  test('Secret keys are what Kubernetes accepts', () => {
    ok(checks.dataKey, 'ca.crt', 'REGISTRY_PASSWD', 'secret-key');
    bad(checks.dataKey, 'pass word', 'a/b', '', 'k'.repeat(254));
  });

  test('hosts are DNS names, with advice for URLs, ports and addresses', () => {
    ok(checks.dnsName, 'harbor.example.test', 'a');
    expect(checks.dnsName('https://harbor.example.test')).toMatch(/is a URL/);
    expect(checks.dnsName('harbor.example.test:8443')).toMatch(/includes a port; give the host/);
    expect(checks.dnsName('192.0.2.1')).toMatch(/is an IP address/);
    bad(checks.dnsName, 'Harbor.example.test', 'harbor.', '*.example.test', 'a_b');
  });

  test('servers may be IPv4 addresses but not IPv6 or carry a port', () => {
    ok(checks.serverAddress, 'pg.example.test', '192.0.2.7');
    expect(checks.serverAddress('::1')).toMatch(/IPv6/);
    bad(checks.serverAddress, 'redis.example.test:6380', 'db host', '');
  });

  test('sizes and CPU amounts stay exact', () => {
    ok(checks.size, '512Mi', '50Gi', '999999Gi');
    bad(checks.size, '0Gi', '1.5Gi', '10G', '-5Gi', '05Gi', '1Ti', '9999999Gi');
    ok(checks.cpu, '100m', '1', '0.5', '2.25');
    bad(checks.cpu, '99999999999999999999999m', '1e3', '-1', '0m', '');
  });

  test('durations fit cert-manager and Go', () => {
    const certificate = checks.duration(1, '1h');
    ok(certificate, '1h', '90m', '2160h', '876000h');
    bad(certificate, '30m', '0h', '1h30m', '90d', '3000000h');
    expect(checks.duration(5 / 60, '5m')('1m')).toMatch(/shorter than 5m/);
  });

  test('image registries are hosts with an optional port and path', () => {
    ok(checks.imageRegistry, 'docker.io', 'registry.example.test:5000/mirror/harbor');
    bad(
      checks.imageRegistry,
      ' registry.local',
      '/',
      'https://registry.local',
      'r.local/m:latest',
      'registry.local/Mirror',
      'registry.local/',
      'registry.local\nx',
    );
  });

  test('Harbor versions are short 2.x tags', () => {
    ok(checks.harborVersion, 'v2.15.2', 'v2.100.0');
    bad(checks.harborVersion, 'v3.0.0', '2.15.2', `v2.${'1'.repeat(70)}.0`);
  });
});

describe('the configuration refuses what Kubernetes would', () => {
  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    [
      'a dotted namespace',
      { namespace: 'harbor.prod' },
      /namespace: "harbor.prod" is not a DNS label/,
    ],
    [
      'a system namespace',
      { namespace: 'kube-system' },
      /namespace: "kube-system" is a namespace Kubernetes owns/,
    ],
    [
      'a bad class name',
      { registryStorage: { storageClassName: 'nfs..csi' } },
      /registryStorage\.storageClassName:/,
    ],
    [
      'a bad Secret key',
      { existingSecrets: { adminPassword: { name: 'a', key: 'pass word' } } },
      /existingSecrets\.adminPassword\.key: "pass word"/,
    ],
    [
      'a limit under the request',
      { database: { resources: { cpu: '100m', memory: '2Gi', memoryLimit: '1Gi' } } },
      /database\.resources\.memoryLimit: "1Gi" is below the request "2Gi"/,
    ],
    [
      'a too short certificate',
      { tls: { duration: '30m', renewBefore: '10m' } },
      /tls\.duration: "30m" is shorter than 1h/,
    ],
    [
      'a mirror with a scheme',
      { images: { registry: 'https://mirror.example.test' } },
      /images\.registry:/,
    ],
    [
      'an IPv6 Redis host',
      { redis: { type: 'external', host: '::1' } },
      /redis\.host: "::1" is an IPv6 address/,
    ],
    [
      'a Redis host with a port',
      { redis: { type: 'external', host: 'r.example.test:6380' } },
      /redis\.host: .* includes a port/,
    ],
    [
      'a Redis user that breaks URLs',
      { redis: { type: 'external', host: 'r.example.test', username: 'a@b' } },
      /redis\.username:/,
    ],
    [
      'a missing password reference',
      { database: { type: 'external', host: 'pg.example.test' } },
      /database\.password: is missing; must be a Secret reference/,
    ],
    ['an infinite port', { port: Infinity }, /port: Infinity is not a finite number/],
    ['a fractional port', { port: 443.5 }, /port: 443.5 is not a TCP port/],
  ];

  test.each(cases)('%s', (_, override, message) => {
    expect(() => synthApp(override)).toThrow(message);
  });
});

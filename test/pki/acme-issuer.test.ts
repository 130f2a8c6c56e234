import { Chart, Testing } from 'cdk8s';
import { AcmeIssuer, AcmeIssuerProps, AcmeSolver } from '../../lib/pki/acme-issuer';
import { IssuerKind } from '../../lib/pki/issuer-ref';
import { expectValidObjects } from '../support/schema';
import { find } from '../support/synth';

const base: AcmeIssuerProps = {
  name: 'acme',
  server: 'https://acme.example.test/directory',
  email: 'ops@example.test',
  solver: AcmeSolver.http01({ ingressClassName: 'nginx' }),
};

function synth(props: Partial<AcmeIssuerProps> = {}) {
  const chart = new Chart(Testing.app(), 'test', { namespace: 'harbor' });
  new AcmeIssuer(chart, 'issuer', { ...base, ...props });
  const objects = Testing.synth(chart);
  expectValidObjects(objects);
  return objects;
}

describe('AcmeIssuer', () => {
  test('answers HTTP-01 through the ingress class and keeps its account key', () => {
    const acme = find(synth(), 'Issuer', 'acme').spec.acme;

    expect(acme).toEqual({
      server: 'https://acme.example.test/directory',
      email: 'ops@example.test',
      privateKeySecretRef: { name: 'acme-account-key' },
      solvers: [{ http01: { ingress: { ingressClassName: 'nginx' } } }],
    });
  });

  test('binds a commercial CA account and can be cluster-wide', () => {
    const objects = synth({
      kind: IssuerKind.CLUSTER_ISSUER,
      externalAccountBinding: { keyId: 'kid-1', keySecret: { name: 'eab', key: 'hmac' } },
    });

    const issuer = find(objects, 'ClusterIssuer', 'acme');

    expect(issuer.metadata.namespace).toBeUndefined();
    expect(issuer.spec.acme.externalAccountBinding).toEqual({
      keyID: 'kid-1',
      keySecretRef: { name: 'eab', key: 'hmac' },
    });
  });

  test('signs RFC 2136 updates with a TSIG key', () => {
    const solver = AcmeSolver.dns01Rfc2136({
      nameserver: '192.0.2.53:53',
      tsigKeyName: 'harbor',
      tsigAlgorithm: 'HMACSHA256',
      tsigSecret: { name: 'tsig', key: 'secret' },
    });

    const rfc2136 = find(synth({ solver }), 'Issuer', 'acme').spec.acme.solvers[0].dns01.rfc2136;

    expect(rfc2136).toEqual({
      nameserver: '192.0.2.53:53',
      tsigKeyName: 'harbor',
      tsigAlgorithm: 'HMACSHA256',
      tsigSecretSecretRef: { name: 'tsig', key: 'secret' },
    });
  });

  test('reports every problem together', () => {
    const solver = AcmeSolver.dns01Rfc2136({ nameserver: 'ns1::53', tsigKeyName: 'k' });

    expect(() => synth({ server: 'http://acme.example.test', email: 'ops', solver })).toThrow(
      /server: "http:\/\/acme\.example\.test" is not an https URL[\s\S]*email: "ops" is not an email address[\s\S]*dns01\.nameserver: "ns1::53" is not a DNS server address[\s\S]*dns01\.tsigKeyName: and tsigSecret go together/,
    );
  });

  test('refuses port 0 and TSIG algorithms cert-manager does not know', () => {
    const solver = AcmeSolver.dns01Rfc2136({
      nameserver: 'ns1.example.test:0',
      tsigKeyName: 'k',
      tsigAlgorithm: 'FOO',
      tsigSecret: { name: 'tsig', key: 'secret' },
    });

    expect(() => synth({ solver })).toThrow(
      /dns01\.nameserver: "ns1\.example\.test:0" is not a DNS server address[\s\S]*dns01\.tsigAlgorithm: "FOO" is not a TSIG algorithm cert-manager knows; use one of HMACMD5/,
    );
  });
});

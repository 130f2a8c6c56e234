import { containerOf, envOf, find, mountAt, synthApp } from '../support/synth';

function trivyEnv(override: Record<string, unknown>) {
  const trivy = find(synthApp({ trivy: override }).objects, 'StatefulSet', 'harbor-trivy');
  return (name: string) => envOf(containerOf(trivy, 'trivy'), name);
}

describe('HarborTrivy', () => {
  test('downloads its databases and scans online by default', () => {
    const env = trivyEnv({});

    expect(env('SCANNER_TRIVY_SKIP_UPDATE')).toBe('false');
    expect(env('SCANNER_TRIVY_SKIP_JAVA_DB_UPDATE')).toBe('false');
    expect(env('SCANNER_TRIVY_OFFLINE_SCAN')).toBe('false');
    expect(env('SCANNER_TRIVY_DB_REPOSITORY')).toBeUndefined();
  });

  test('sets every offline switch with one air-gap setting (field failure #11)', () => {
    const env = trivyEnv({ airGapped: true, dbPreloaded: true });

    expect(env('SCANNER_TRIVY_SKIP_UPDATE')).toBe('true');
    expect(env('SCANNER_TRIVY_SKIP_JAVA_DB_UPDATE')).toBe('true');
    expect(env('SCANNER_TRIVY_OFFLINE_SCAN')).toBe('true');
  });

  test('refuses an air gap with a switch turned back on (field failure #11)', () => {
    expect(() =>
      synthApp({ trivy: { airGapped: true, dbPreloaded: true, offlineScan: false } }),
    ).toThrow(/trivy\.offlineScan: false contradicts trivy\.airGapped/);
  });

  test('refuses skipping updates without a database to scan with (field failure #10)', () => {
    expect(() => synthApp({ trivy: { skipUpdate: true } })).toThrow(
      /trivy\.skipUpdate: true .*skipUpdate requires a pre-seeded Trivy DB/,
    );
    expect(() => synthApp({ trivy: { airGapped: true } })).toThrow(
      /trivy\.airGapped: true .*airGapped with no dbRepository skips its download and requires a pre-seeded Trivy DB/,
    );
  });

  test('pulls its databases from a mirror instead of skipping them (field failure #10)', () => {
    const env = trivyEnv({
      airGapped: true,
      dbRepository: ['registry.example.test/mirror/trivy-db'],
      javaDbRepository: ['registry.example.test/mirror/trivy-java-db'],
    });

    expect(env('SCANNER_TRIVY_DB_REPOSITORY')).toBe('registry.example.test/mirror/trivy-db');
    expect(env('SCANNER_TRIVY_JAVA_DB_REPOSITORY')).toBe(
      'registry.example.test/mirror/trivy-java-db',
    );
    expect(env('SCANNER_TRIVY_SKIP_UPDATE')).toBe('false');
    expect(env('SCANNER_TRIVY_OFFLINE_SCAN')).toBe('true');
  });

  test('refuses a repository that is not an OCI reference', () => {
    expect(() =>
      synthApp({ trivy: { dbRepository: ['https://mirror.example.test/trivy-db'] } }),
    ).toThrow(/trivy\.dbRepository\[0\]: .* is not an OCI repository/);
  });

  test('keeps its cache on its own claim and reaches Redis database 5', () => {
    const { objects } = synthApp();

    const trivy = find(objects, 'StatefulSet', 'harbor-trivy');
    const container = containerOf(trivy, 'trivy');

    expect(
      mountAt(trivy, container, '/home/scanner/.cache')?.volume.persistentVolumeClaim.claimName,
    ).toBe('harbor-trivy');
    expect(envOf(container, 'SCANNER_REDIS_URL')).toBe(
      'redis://harbor-redis:6379/5?idle_timeout_seconds=30',
    );
    expect(envOf(container, 'SCANNER_API_SERVER_ADDR')).toBe(':8080');
  });
});

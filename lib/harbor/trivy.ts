import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import {
  HarborComponentProps,
  LogLevel,
  REDIS_PASSWORD_ENV,
  RedisDatabase,
  caBundleMount,
  noProxy,
  redisUrl,
  secretEnv,
} from './common';
import { HARBOR_UID } from './core';
import { componentPorts, internalTlsDir, internalTlsMounts, probeScheme } from './internal-tls';
import { PersistenceProps, dataClaim } from './persistence';
import { ComponentResources, resourcesOf } from './resources';
import {
  Component,
  componentService,
  componentStatefulSet,
  harborContainer,
  labelsOf,
} from '../private/component';
import { Problems } from '../private/validation';
import { httpProbe } from '../private/workload';

/** Vulnerability severities Trivy reports. */
export enum TrivySeverity {
  UNKNOWN = 'UNKNOWN',
  LOW = 'LOW',
  MEDIUM = 'MEDIUM',
  HIGH = 'HIGH',
  CRITICAL = 'CRITICAL',
}

export interface TrivyOptions {
  /** The vulnerability database cache; re-downloadable, so a block class is enough. */
  readonly storage: PersistenceProps;

  /**
   * Report only vulnerabilities that have a fix.
   * @default false
   */
  readonly ignoreUnfixed?: boolean;

  /** @default - every severity */
  readonly severities?: TrivySeverity[];

  /**
   * Allow the cache on an NFS class. It needs no sharing and NFS only slows it down.
   * @default false
   */
  readonly allowNfs?: boolean;

  /** @default - the requests and limits Harbor's chart uses */
  readonly resources?: ComponentResources;

  /**
   * A site without internet access: scans never call out (`offlineScan`), and the
   * vulnerability databases come from `dbRepository` / `javaDbRepository` mirrors, or, where
   * none is named, are never updated and must be copied into the cache volume beforehand
   * (`dbPreloaded`).
   * @default false
   */
  readonly airGapped?: boolean;

  /**
   * OCI repositories of the vulnerability database, e.g. a mirror in a Harbor proxy-cache
   * project (`registry.example.test/mirror/aquasecurity/trivy-db`).
   * @default - Trivy's public repositories
   */
  readonly dbRepository?: string[];

  /** OCI repositories of the Java vulnerability database. @default - Trivy's public ones */
  readonly javaDbRepository?: string[];

  /**
   * The databases were copied into the cache volume (`trivy/db`, `java-db`) by the operator, so
   * they need no download. Without it, an air-gapped scanner with no mirror has nothing to scan
   * with: Trivy refuses to skip the update on its first run.
   * @default false
   */
  readonly dbPreloaded?: boolean;

  /** Never download the vulnerability database. @default - true when air-gapped without a mirror */
  readonly skipUpdate?: boolean;

  /** Never download the Java database. @default - true when air-gapped without a mirror */
  readonly skipJavaDbUpdate?: boolean;

  /** Scan without calling any external service. @default - the value of `airGapped` */
  readonly offlineScan?: boolean;
}

/** The scanner's download and network switches, consistent with each other. */
export interface TrivyNetworking {
  readonly skipUpdate: boolean;
  readonly skipJavaDbUpdate: boolean;
  readonly offlineScan: boolean;
}

/** Decides the switches and records every contradiction (field failures #10, #11). */
export function trivyNetworking(
  options: TrivyOptions,
  problems: Problems,
  field = 'trivy',
): TrivyNetworking {
  const airGapped = options.airGapped ?? false;
  const wanted: TrivyNetworking = {
    skipUpdate: airGapped && !options.dbRepository,
    skipJavaDbUpdate: airGapped && !options.javaDbRepository,
    offlineScan: airGapped,
  };
  const result = { ...wanted };
  for (const key of Object.keys(wanted) as Array<keyof TrivyNetworking>) {
    const given = options[key];
    if (given === undefined) continue;
    if (airGapped && wanted[key] && !given) {
      problems.add(
        `${field}.${key}`,
        `false contradicts ${field}.airGapped, which needs it true; remove it or name a mirror`,
      );
    }
    result[key] = given;
  }
  if (result.skipUpdate && !options.dbPreloaded) {
    // name the setting the user wrote: skipUpdate itself, or airGapped that implies it
    const written = options.skipUpdate === undefined ? 'airGapped' : 'skipUpdate';
    problems.add(
      `${field}.${written}`,
      `true leaves the scanner without a vulnerability database: ${written === 'airGapped' ? 'airGapped with no dbRepository skips its download and' : 'skipUpdate'} requires a` +
        ` pre-seeded Trivy DB; copy it into the cache and set ${field}.dbPreloaded, or name a` +
        ` mirror in ${field}.dbRepository`,
    );
  }
  for (const [key, list] of [
    ['dbRepository', options.dbRepository],
    ['javaDbRepository', options.javaDbRepository],
  ] as const) {
    (list ?? []).forEach((repository, i) =>
      problems.value(`${field}.${key}[${i}]`, repository, (value) =>
        /^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:\d{1,5})?(\/[a-z0-9]+([._-][a-z0-9]+)*)+$/.test(value)
          ? undefined
          : 'is not an OCI repository; use e.g. "registry.example.test/mirror/trivy-db"',
      ),
    );
    problems.check(list === undefined || list.length > 0, `${field}.${key}`, 'is empty');
  }
  return result;
}

export interface HarborTrivyProps extends HarborComponentProps, TrivyOptions {}

export const TRIVY_PORT = 8080;

/**
 * The Trivy scanner adapter. Core registers it as the default scanner at start, so every
 * project can scan on push without further setup.
 */
export class HarborTrivy extends Construct {
  public readonly statefulSet: kplus.StatefulSet;
  public readonly service: kplus.Service;
  public readonly claim: kplus.PersistentVolumeClaim;

  public constructor(scope: Construct, id: string, props: HarborTrivyProps) {
    super(scope, id);

    const endpoints = props.endpoints;
    if (!endpoints.trivyService) {
      throw new Error(
        'trivy: endpoints.trivyService is not set; Harbor core would not register' + ' the scanner',
      );
    }

    const name = `${props.instance}-trivy`;
    const component: Component = {
      instance: props.instance,
      component: 'trivy',
      version: props.images.version,
      uid: HARBOR_UID,
    };
    const queue = redisUrl(endpoints.redis, RedisDatabase.TRIVY, '?idle_timeout_seconds=30');
    const severities = props.severities ?? Object.values(TrivySeverity);
    const problems = new Problems();
    const networking = trivyNetworking(props, problems);
    problems.throwIfAny('Trivy');
    const port = componentPorts(endpoints).trivy;
    const scheme = probeScheme(endpoints);

    this.claim = dataClaim(this, name, labelsOf(component), props.storage, 'trivy.storage');
    this.service = componentService(this, component, endpoints.trivyService, [
      { name: port.name, port: port.service, targetPort: port.container },
    ]);

    this.statefulSet = componentStatefulSet(this, component, name, this.service, {
      containers: [
        harborContainer(component, {
          name: 'trivy',
          image: props.images.trivyAdapter,
          ports: [{ number: port.container, name: 'api-server' }],
          resources: resourcesOf(
            props.resources ?? { cpu: '200m', memory: '512Mi', memoryLimit: '1Gi' },
          ),
          envVariables: {
            SCANNER_LOG_LEVEL: kplus.EnvValue.fromValue(props.logLevel ?? LogLevel.INFO),
            SCANNER_API_SERVER_ADDR: kplus.EnvValue.fromValue(`:${port.container}`),
            ...(endpoints.internalTls
              ? {
                  INTERNAL_TLS_ENABLED: kplus.EnvValue.fromValue('true'),
                  SCANNER_API_SERVER_TLS_CERTIFICATE: kplus.EnvValue.fromValue(
                    `${internalTlsDir('trivy')}/tls.crt`,
                  ),
                  SCANNER_API_SERVER_TLS_KEY: kplus.EnvValue.fromValue(
                    `${internalTlsDir('trivy')}/tls.key`,
                  ),
                }
              : {}),
            SCANNER_TRIVY_CACHE_DIR: kplus.EnvValue.fromValue('/home/scanner/.cache/trivy'),
            SCANNER_TRIVY_REPORTS_DIR: kplus.EnvValue.fromValue('/home/scanner/.cache/reports'),
            SCANNER_TRIVY_VULN_TYPE: kplus.EnvValue.fromValue('os,library'),
            SCANNER_TRIVY_SEVERITY: kplus.EnvValue.fromValue(severities.join(',')),
            SCANNER_TRIVY_IGNORE_UNFIXED: kplus.EnvValue.fromValue(
              String(props.ignoreUnfixed ?? false),
            ),
            SCANNER_TRIVY_SECURITY_CHECKS: kplus.EnvValue.fromValue('vuln'),
            SCANNER_TRIVY_TIMEOUT: kplus.EnvValue.fromValue('5m0s'),
            SCANNER_TRIVY_INSECURE: kplus.EnvValue.fromValue('false'),
            SCANNER_TRIVY_SKIP_UPDATE: kplus.EnvValue.fromValue(String(networking.skipUpdate)),
            SCANNER_TRIVY_SKIP_JAVA_DB_UPDATE: kplus.EnvValue.fromValue(
              String(networking.skipJavaDbUpdate),
            ),
            SCANNER_TRIVY_OFFLINE_SCAN: kplus.EnvValue.fromValue(String(networking.offlineScan)),
            ...(props.dbRepository
              ? {
                  SCANNER_TRIVY_DB_REPOSITORY: kplus.EnvValue.fromValue(
                    props.dbRepository.join(','),
                  ),
                }
              : {}),
            ...(props.javaDbRepository
              ? {
                  SCANNER_TRIVY_JAVA_DB_REPOSITORY: kplus.EnvValue.fromValue(
                    props.javaDbRepository.join(','),
                  ),
                }
              : {}),
            NO_PROXY: kplus.EnvValue.fromValue(noProxy(endpoints)),
            ...(endpoints.redis.password
              ? { [REDIS_PASSWORD_ENV]: secretEnv(this, endpoints.redis.password) }
              : {}),
            SCANNER_REDIS_URL: kplus.EnvValue.fromValue(queue),
            SCANNER_STORE_REDIS_URL: kplus.EnvValue.fromValue(queue),
            SCANNER_JOB_QUEUE_REDIS_URL: kplus.EnvValue.fromValue(queue),
          },
          volumeMounts: [
            {
              volume: kplus.Volume.fromPersistentVolumeClaim(this, 'Cache', this.claim, {
                name: 'data',
              }),
              path: '/home/scanner/.cache',
            },
            ...caBundleMount(this, props.caBundle),
            ...internalTlsMounts(this, props, 'trivy'),
          ],
          startup: httpProbe(
            '/probe/healthy',
            port.container,
            { period: 5, failureThreshold: 60 },
            scheme,
          ),
          liveness: httpProbe(
            '/probe/healthy',
            port.container,
            { period: 10, failureThreshold: 10 },
            scheme,
          ),
          readiness: httpProbe('/probe/ready', port.container, { period: 10 }, scheme),
        }),
      ],
    });
  }
}

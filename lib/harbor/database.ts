import { Duration, Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import { DatabaseConnection, SecretKeyRef } from './common';
import { HarborImages } from './images';
import { PersistenceProps, dataClaim } from './persistence';
import { ComponentResources, resourcesOf } from './resources';
import {
  Component,
  componentService,
  componentStatefulSet,
  harborContainer,
  labelsOf,
} from '../private/component';
import { commandProbe } from '../private/workload';

/** PostgreSQL's `sslmode` values that Harbor accepts. */
export enum DatabaseSslMode {
  DISABLE = 'disable',
  REQUIRE = 'require',
  VERIFY_CA = 'verify-ca',
  VERIFY_FULL = 'verify-full',
}

export interface InternalDatabaseOptions {
  /** Where PostgreSQL keeps its data: a block StorageClass, not NFS. */
  readonly storage: PersistenceProps;

  /**
   * Allow the storage class to be NFS. PostgreSQL needs its data directory owned by uid 999
   * with mode 0700 and working fsync; most NFS exports give neither.
   * @default false
   */
  readonly allowNfs?: boolean;

  /** @default - the requests of a small installation */
  readonly resources?: ComponentResources;
}

export interface ExternalDatabaseOptions {
  readonly host: string;
  /** @default 5432 */
  readonly port?: number;
  /** @default 'registry' */
  readonly database?: string;
  /** @default 'postgres' */
  readonly username?: string;
  /** The user's password. */
  readonly password: SecretKeyRef;
  /** @default DatabaseSslMode.REQUIRE */
  readonly sslMode?: DatabaseSslMode;
}

/** Harbor's PostgreSQL: the built-in single instance, or a database run elsewhere. */
export class HarborDatabase {
  /** The `harbor-db` image as a single-replica StatefulSet on a block volume. */
  public static internal(options: InternalDatabaseOptions): HarborDatabase {
    return new HarborDatabase(options, undefined);
  }

  /** A PostgreSQL server run outside this stack; Harbor needs one database in it. */
  public static external(options: ExternalDatabaseOptions): HarborDatabase {
    return new HarborDatabase(undefined, options);
  }

  private constructor(
    public readonly internalOptions: InternalDatabaseOptions | undefined,
    public readonly externalOptions: ExternalDatabaseOptions | undefined,
  ) {}
}

export interface InternalDatabaseProps extends InternalDatabaseOptions {
  readonly instance: string;
  readonly images: HarborImages;
  /** The `postgres` superuser's password. */
  readonly password: SecretKeyRef;
}

export const DATABASE_PORT = 5432;
const POSTGRES_UID = 999;
const DATA = '/var/lib/postgresql/data';

/**
 * Harbor's own PostgreSQL (the `harbor-db` image: PostgreSQL 18 in Harbor 2.15.2, which
 * upgrades a PostgreSQL 15 data directory in place at its first start and then deletes the old
 * one, so back up before upgrading Harbor). One replica: it has no replication.
 */
export class InternalDatabase extends Construct {
  public readonly statefulSet: kplus.StatefulSet;
  public readonly service: kplus.Service;
  public readonly claim: kplus.PersistentVolumeClaim;
  public readonly connection: DatabaseConnection;

  public constructor(scope: Construct, id: string, props: InternalDatabaseProps) {
    super(scope, id);

    const name = `${props.instance}-database`;
    const component: Component = {
      instance: props.instance,
      component: 'database',
      version: props.images.version,
      uid: POSTGRES_UID,
    };

    this.claim = dataClaim(this, name, labelsOf(component), props.storage, 'database.storage');
    this.service = componentService(this, component, name, [
      { name: 'postgres', port: DATABASE_PORT, targetPort: DATABASE_PORT },
    ]);

    const data = kplus.Volume.fromPersistentVolumeClaim(this, 'Data', this.claim, {
      name: 'database-data',
    });
    const shm = kplus.Volume.fromEmptyDir(this, 'Shm', 'shm', {
      medium: kplus.EmptyDirMedium.MEMORY,
      sizeLimit: Size.mebibytes(512),
    });

    this.statefulSet = componentStatefulSet(this, component, name, this.service, {
      terminationGracePeriod: Duration.seconds(120),
      initContainers: [
        harborContainer(component, {
          // PostgreSQL refuses a data directory that the group or others can read
          name: 'data-permissions',
          image: props.images.database,
          command: ['/bin/sh', '-c', `chmod -R 700 ${DATA}/pgdata || true`],
          resources: resourcesOf({ cpu: '10m', memory: '32Mi', memoryLimit: '128Mi' }),
          volumeMounts: [{ volume: data, path: DATA }],
        }),
      ],
      containers: [
        harborContainer(component, {
          name: 'database',
          image: props.images.database,
          ports: [{ number: DATABASE_PORT, name: 'postgres' }],
          resources: resourcesOf(
            props.resources ?? { cpu: '100m', memory: '256Mi', memoryLimit: '2Gi' },
          ),
          envVariables: {
            PGDATA: kplus.EnvValue.fromValue(`${DATA}/pgdata`),
            POSTGRES_PASSWORD: kplus.EnvValue.fromSecretValue({
              secret: kplus.Secret.fromSecretName(this, 'Password', props.password.name),
              key: props.password.key,
            }),
          },
          volumeMounts: [
            { volume: data, path: DATA },
            { volume: shm, path: '/dev/shm' },
          ],
          // an in-place upgrade of the previous PostgreSQL can take long on a large database
          startup: commandProbe(['/docker-healthcheck.sh'], { period: 10, failureThreshold: 360 }),
          liveness: commandProbe(['/docker-healthcheck.sh'], { period: 10, failureThreshold: 6 }),
          readiness: commandProbe(['/docker-healthcheck.sh'], { period: 10 }),
        }),
      ],
    });

    this.connection = {
      host: this.service.name,
      port: DATABASE_PORT,
      database: 'registry',
      username: 'postgres',
      sslMode: DatabaseSslMode.DISABLE,
      password: props.password,
      // the image allows 1024 connections; core's pool stays far below that per replica
      maxOpenConnections: 900,
      maxIdleConnections: 100,
    };
  }
}

/** How Harbor reaches a database it does not run. */
export function externalConnection(options: ExternalDatabaseOptions): DatabaseConnection {
  return {
    host: options.host,
    port: options.port ?? DATABASE_PORT,
    database: options.database ?? 'registry',
    username: options.username ?? 'postgres',
    sslMode: options.sslMode ?? DatabaseSslMode.REQUIRE,
    password: options.password,
    maxOpenConnections: 100,
    maxIdleConnections: 50,
  };
}

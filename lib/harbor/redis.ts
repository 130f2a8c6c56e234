import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import { RedisConnection, SecretKeyRef } from './common';
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
import { tcpProbe } from '../private/workload';

export interface InternalRedisOptions {
  /** Where Valkey keeps its snapshots: a block StorageClass, not NFS. */
  readonly storage: PersistenceProps;

  /**
   * Allow the storage class to be NFS. Valkey runs as uid 999 and fails to write its files
   * when the export squashes or re-owns them.
   * @default false
   */
  readonly allowNfs?: boolean;

  /** @default - the requests of a small installation */
  readonly resources?: ComponentResources;
}

export interface ExternalRedisOptions {
  readonly host: string;
  /** @default 6379 */
  readonly port?: number;
  /** @default false */
  readonly tls?: boolean;
  /** @default - no ACL user */
  readonly username?: string;
  /**
   * The password. It is put into Redis URLs unescaped, so it must not contain `@`, `/`, `:`
   * or `%`.
   * @default - no password
   */
  readonly password?: SecretKeyRef;
}

/** Harbor's Redis: the built-in Valkey, or a Redis-compatible server run elsewhere. */
export class HarborRedis {
  /** Harbor's `valkey-photon` image as a single-replica StatefulSet. */
  public static internal(options: InternalRedisOptions): HarborRedis {
    return new HarborRedis(options, undefined);
  }

  public static external(options: ExternalRedisOptions): HarborRedis {
    return new HarborRedis(undefined, options);
  }

  private constructor(
    public readonly internalOptions: InternalRedisOptions | undefined,
    public readonly externalOptions: ExternalRedisOptions | undefined,
  ) {}
}

export interface InternalRedisProps extends InternalRedisOptions {
  readonly instance: string;
  readonly images: HarborImages;
}

export const REDIS_PORT = 6379;
const REDIS_UID = 999;

/**
 * Harbor's own Valkey: sessions, job queues and caches, snapshotted to its volume. Losing it
 * logs users out and drops queued jobs, nothing more. It has no password and is reachable only
 * inside the namespace's network.
 */
export class InternalRedis extends Construct {
  public readonly statefulSet: kplus.StatefulSet;
  public readonly service: kplus.Service;
  public readonly claim: kplus.PersistentVolumeClaim;
  public readonly connection: RedisConnection;

  public constructor(scope: Construct, id: string, props: InternalRedisProps) {
    super(scope, id);

    const name = `${props.instance}-redis`;
    const component: Component = {
      instance: props.instance,
      component: 'redis',
      version: props.images.version,
      uid: REDIS_UID,
    };

    this.claim = dataClaim(this, name, labelsOf(component), props.storage, 'redis.storage');
    this.service = componentService(this, component, name, [
      { name: 'redis', port: REDIS_PORT, targetPort: REDIS_PORT },
    ]);

    this.statefulSet = componentStatefulSet(this, component, name, this.service, {
      containers: [
        harborContainer(component, {
          name: 'redis',
          image: props.images.redis,
          ports: [{ number: REDIS_PORT, name: 'redis' }],
          resources: resourcesOf(
            props.resources ?? { cpu: '50m', memory: '128Mi', memoryLimit: '1Gi' },
          ),
          volumeMounts: [
            {
              volume: kplus.Volume.fromPersistentVolumeClaim(this, 'Data', this.claim, {
                name: 'data',
              }),
              path: '/var/lib/redis',
            },
          ],
          startup: tcpProbe(REDIS_PORT, { period: 5, failureThreshold: 60 }),
          liveness: tcpProbe(REDIS_PORT, { period: 10 }),
          readiness: tcpProbe(REDIS_PORT, { period: 10 }),
        }),
      ],
    });

    this.connection = { host: this.service.name, port: REDIS_PORT, tls: false };
  }
}

export function externalRedisConnection(options: ExternalRedisOptions): RedisConnection {
  return {
    host: options.host,
    port: options.port ?? REDIS_PORT,
    tls: options.tls ?? false,
    username: options.username,
    password: options.password,
  };
}

import { isIP } from 'net';
import { serverAddress } from '../private/checks';
import { Problems, show } from '../private/validation';

/** NFS protocol versions a mount can ask for. */
export enum NfsVersion {
  V3 = '3',
  V4_0 = '4.0',
  V4_1 = '4.1',
  V4_2 = '4.2',
}

/**
 * What the NFS server does with the uids of clients, as its export options say. It decides
 * who owns the files Harbor writes, so it must be declared: it cannot be seen from the cluster.
 */
export enum Squash {
  /** `no_root_squash`: root on the node stays root; the kubelet can hand volumes to uid 10000. */
  NO_ROOT_SQUASH = 'no_root_squash',
  /** `root_squash` (the servers' default): root becomes nobody; only modes open the volume. */
  ROOT_SQUASH = 'root_squash',
  /** `all_squash` with `anonuid`/`anongid`: every client uid becomes one owner. */
  ALL_SQUASH = 'all_squash',
}

export interface NfsExportProps {
  /** The NFS server: a DNS name the nodes resolve, or an IPv4 address. */
  readonly server: string;

  /** The exported path on the server, absolute. */
  readonly share: string;

  /**
   * How the export treats client uids (`exports(5)`).
   */
  readonly squash: Squash;

  /**
   * With `all_squash`, the uid and gid the export maps every client to (`anonuid`, `anongid`).
   * Harbor's registry needs 10000 to own its files.
   * @default - required with Squash.ALL_SQUASH
   */
  readonly anonUid?: number;
  readonly anonGid?: number;

  /** @default NfsVersion.V4_1 */
  readonly version?: NfsVersion;

  /**
   * Further mount options from a known set (`timeo=600`, `noatime`, `nconnect=4`, ...). `hard`
   * and the version are always set; `soft` is refused because it turns a slow server into
   * corrupt writes.
   * @default []
   */
  readonly mountOptions?: string[];

  /**
   * With NFS v3, mount with `nolock`; v3 is refused without it, because its locking needs
   * rpc.statd on every node. Locks are then local to each node, so two nodes writing one file
   * can corrupt it.
   * @default false
   */
  readonly allowNoLock?: boolean;
}

const ABSOLUTE_PATH = /^\/([A-Za-z0-9._-]+\/?)*$/;

/** Mount options that may be given, with the form of their value. */
const KNOWN_OPTIONS: Record<string, RegExp | undefined> = {
  noatime: undefined,
  nodiratime: undefined,
  noresvport: undefined,
  nocto: undefined,
  timeo: /^[1-9]\d{0,4}$/,
  retrans: /^[1-9]\d{0,2}$/,
  rsize: /^\d{4,8}$/,
  wsize: /^\d{4,8}$/,
  nconnect: /^([1-9]|1[0-6])$/,
  actimeo: /^\d{1,5}$/,
  proto: /^(tcp|tcp6|rdma)$/,
  sec: /^(sys|krb5|krb5i|krb5p)$/,
  lookupcache: /^(all|none|pos|positive)$/,
};

/**
 * An NFS export as the cluster mounts it. Its checks run when it is made, and its mount
 * options always say `hard` and the NFS version, so every node mounts it the same way.
 */
export class NfsExport {
  /** Every problem of the props, each under `prefix` + the prop's name. */
  public static check(props: NfsExportProps, prefix = ''): readonly string[] {
    const problems = new Problems();
    problems.value(`${prefix}server`, props.server, serverAddress);
    problems.value(`${prefix}share`, props.share, (share) =>
      ABSOLUTE_PATH.test(share) && !share.split('/').includes('..')
        ? undefined
        : "is not an absolute path; use e.g. \"/exports/harbor\" (letters, digits, '.', '_', '-')",
    );
    problems.value(`${prefix}squash`, props.squash, (squash) =>
      Object.values(Squash).includes(squash)
        ? undefined
        : `is not an export squash mode; declare one of ${Object.values(Squash).join(', ')}` +
          ' as the server exports it',
    );
    if (props.squash !== Squash.ALL_SQUASH) {
      for (const field of ['anonUid', 'anonGid'] as const) {
        problems.check(
          props[field] === undefined,
          `${prefix}${field}`,
          'applies to all_squash only; remove it or declare squash all_squash',
        );
      }
    }
    if (props.squash === Squash.ALL_SQUASH) {
      for (const [field, id] of [
        ['anonUid', props.anonUid],
        ['anonGid', props.anonGid],
      ] as const) {
        problems.check(
          id !== undefined && Number.isInteger(id) && id >= 0,
          `${prefix}${field}`,
          `${show(id)} must be the uid or gid all_squash maps clients to (10000 for Harbor)`,
        );
      }
    }
    problems.value(`${prefix}version`, props.version, (version) =>
      Object.values(NfsVersion).includes(version)
        ? undefined
        : `is not an NFS version; use one of ${Object.values(NfsVersion).join(', ')}`,
    );
    (props.mountOptions ?? []).forEach((option, i) => {
      problems.value(`${prefix}mountOptions[${i}]`, option, mountOption);
      const key = option.split('=')[0];
      const earlier = (props.mountOptions ?? []).slice(0, i).some((o) => o.split('=')[0] === key);
      problems.check(!earlier, `${prefix}mountOptions[${i}]`, `repeats ${key}; give it once`);
    });
    if ((props.mountOptions ?? []).includes('proto=tcp6') && isIP(props.server) === 4) {
      problems.add(
        `${prefix}mountOptions`,
        '"proto=tcp6" needs an IPv6 server, and server is an IPv4 address; use proto=tcp',
      );
    }
    if (props.allowNoLock && (props.version ?? NfsVersion.V4_1) !== NfsVersion.V3) {
      problems.add(`${prefix}allowNoLock`, 'applies to NFS v3 only; NFS v4 has locking built in');
    }
    if (props.version === NfsVersion.V3 && !props.allowNoLock) {
      problems.add(
        `${prefix}version`,
        '"3" locks through rpc.statd, which nodes and the driver image need not run; use NFS' +
          ' 4.1, or set allowNoLock to mount with nolock',
      );
    }
    return problems.all;
  }

  public readonly server: string;
  public readonly share: string;
  public readonly squash: Squash;
  public readonly version: NfsVersion;
  /** The options every mount of this export uses. */
  public readonly mountOptions: readonly string[];
  public readonly anonUid?: number;
  public readonly anonGid?: number;

  public constructor(props: NfsExportProps) {
    const problems = new Problems();
    problems.addAll(NfsExport.check(props));
    problems.throwIfAny('NFS export');

    this.server = props.server;
    this.share = props.share.length > 1 ? props.share.replace(/\/+$/, '') : props.share;
    this.squash = props.squash;
    this.version = props.version ?? NfsVersion.V4_1;
    this.anonUid = props.anonUid;
    this.anonGid = props.anonGid;
    this.mountOptions = [
      `nfsvers=${this.version}`,
      'hard',
      ...(props.allowNoLock ? ['nolock'] : []),
      ...(props.mountOptions ?? []),
    ];
  }
}

function mountOption(option: string): string | undefined {
  const [key, value, ...rest] = option.split('=');
  if (key === 'soft') return 'is refused: a soft mount turns a slow server into corrupt writes';
  if (['nfsvers', 'vers', 'hard', 'nolock'].includes(key)) {
    return 'is set from version, always, or allowNoLock; remove it';
  }
  if (!(key in KNOWN_OPTIONS) || rest.length > 0) {
    return `is not a known NFS mount option; use ${Object.keys(KNOWN_OPTIONS).join(', ')}`;
  }
  const form = KNOWN_OPTIONS[key];
  if (form === undefined) return value === undefined ? undefined : 'takes no value';
  return value !== undefined && form.test(value) ? undefined : `needs a value matching ${form}`;
}

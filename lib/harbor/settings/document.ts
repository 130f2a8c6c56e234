/**
 * The settings document: what the reconciler Job reads from its ConfigMap. It is the contract
 * between synthesis (which renders it from the typed declaration) and
 * `scripts/reconcile-settings.py` (which brings Harbor's API to it). Field values are already in
 * the shape Harbor's REST API stores, so the reconciler compares without interpreting.
 * No secret value ever appears here: credentials are named by the environment variable the Job
 * reads them from, and that variable comes from a Secret.
 */

/** A CVE allowlist as Harbor stores it; `expiresAt` is in Unix seconds, null for never. */
export interface CveAllowlistDocument {
  readonly items: string[];
  readonly expiresAt: number | null;
}

/** A tag retention rule exactly as `RetentionRule` of the API (ids left out). */
export interface RetentionRuleDocument {
  readonly disabled: boolean;
  readonly action: 'retain';
  readonly template: string;
  readonly params: Record<string, number>;
  readonly tag_selectors: {
    kind: 'doublestar';
    decoration: string;
    pattern: string;
    extras?: string;
  }[];
  readonly scope_selectors: {
    repository: { kind: 'doublestar'; decoration: string; pattern: string }[];
  };
}

export interface RetentionDocument {
  readonly algorithm: 'or';
  readonly rules: RetentionRuleDocument[];
  /** A 6-field Harbor cron, seconds first and `0`; null runs the policy by hand only. */
  readonly cron: string | null;
}

export interface ProjectDocument {
  readonly name: string;
  /**
   * Every metadata key we own, always all of them, with Harbor's string values: `public`,
   * `auto_scan`, `auto_sbom_generation`, `enable_content_trust` (Notation),
   * `enable_content_trust_cosign`, `prevent_vul`, `severity`, `reuse_sys_cve_allowlist`.
   */
  readonly metadata: Record<string, string>;
  /** Bytes; -1 is unlimited. */
  readonly storageLimit: number;
  /** Null leaves the project's list as it is. */
  readonly cveAllowlist: CveAllowlistDocument | null;
  /** Name of a scanner registration; null leaves the project on the system default. */
  readonly scanner: string | null;
  /** Null leaves any retention policy of the project alone. */
  readonly retention: RetentionDocument | null;
}

export interface RobotAccessDocument {
  readonly resource: string;
  readonly action: string;
}

export interface RobotPermissionDocument {
  readonly kind: 'project' | 'system';
  /** A project name, `*` for every project, or `/` for system permissions. */
  readonly namespace: string;
  readonly access: RobotAccessDocument[];
}

/** Where the robot's credentials go: one `kubernetes.io/dockerconfigjson` Secret per namespace. */
export interface RobotSecretDocument {
  readonly name: string;
  readonly namespaces: string[];
  /** The `auths` key: the registry host, with `:port` when not 443. */
  readonly registry: string;
}

export interface RobotDocument {
  /** The short name; Harbor's login name is derived from it (see `robotNamePrefix`). */
  readonly name: string;
  readonly level: 'system' | 'project';
  readonly description: string;
  /** Days; -1 never expires. */
  readonly duration: number;
  readonly disable: boolean;
  readonly permissions: RobotPermissionDocument[];
  readonly secret: RobotSecretDocument;
}

/** Credentials the Job reads from environment variables that come from Secrets. */
export interface CredentialDocument {
  readonly type: 'basic' | 'oauth' | 'secret';
  readonly accessKeyEnv: string;
  readonly accessSecretEnv: string;
}

export interface RegistryDocument {
  readonly name: string;
  /** A replication adapter type, such as `harbor`, `docker-hub` or `docker-registry`. */
  readonly type: string;
  readonly url: string;
  readonly insecure: boolean;
  readonly description: string;
  /** Null for anonymous access. */
  readonly credential: CredentialDocument | null;
}

export interface ReplicationFilterDocument {
  readonly type: 'name' | 'tag' | 'label' | 'resource';
  readonly value: string;
  readonly decoration?: 'matches' | 'excludes';
}

export interface ReplicationDocument {
  readonly name: string;
  readonly description: string;
  /** Name of a registry in `registries`; null is this Harbor (a push policy). */
  readonly srcRegistry: string | null;
  /** Name of a registry in `registries`; null is this Harbor (a pull policy). */
  readonly destRegistry: string | null;
  readonly destNamespace: string;
  /** The API's `dest_namespace_replace_count`: -1 keeps the source path, N replaces N parts. */
  readonly destNamespaceReplaceCount: number;
  readonly filters: ReplicationFilterDocument[];
  readonly trigger: { type: 'manual' | 'scheduled' | 'event_based'; cron: string | null };
  readonly override: boolean;
  readonly enabled: boolean;
  readonly replicateDeletion: boolean;
  /** KB/s; 0 or less is unlimited. */
  readonly speed: number;
  readonly copyByChunk: boolean;
}

export interface ScannerDocument {
  readonly name: string;
  readonly url: string;
  readonly description: string;
  readonly auth: '' | 'Basic' | 'Bearer' | 'X-ScannerAdapter-API-Key';
  /** Null when `auth` is empty. */
  readonly accessCredentialEnv: string | null;
  readonly skipCertVerify: boolean;
  readonly useInternalAddr: boolean;
  readonly default: boolean;
}

export interface ScheduleDocument {
  readonly type: 'Hourly' | 'Daily' | 'Weekly' | 'Custom' | 'None';
  /** Required for Custom; a 6-field Harbor cron. */
  readonly cron: string | null;
}

export interface SettingsDocument {
  readonly apiVersion: 'cdk8s-harbor/v1';
  /**
   * Ownership marker: written into the description of every robot, registry, replication
   * policy and scanner the reconciler creates; `prune` deletes only objects carrying it.
   */
  readonly owner: string;
  /** Delete owned robots, registries, policies and scanners no longer declared. Never projects. */
  readonly prune: boolean;
  /** Harbor's `robot_name_prefix`. */
  readonly robotNamePrefix: string;
  readonly projects: ProjectDocument[];
  readonly robots: RobotDocument[];
  readonly registries: RegistryDocument[];
  readonly replicationPolicies: ReplicationDocument[];
  readonly scanners: ScannerDocument[];
  /** Null leaves the schedule as it is. */
  readonly scanAllSchedule: ScheduleDocument | null;
  /** Null leaves the system allowlist as it is. */
  readonly systemCveAllowlist: CveAllowlistDocument | null;
  /**
   * User-scope configuration items (`PUT /configurations`), native JSON types, secrets left
   * out. Empty when the settings go through CONFIG_OVERWRITE_JSON instead.
   */
  readonly configurations: Record<string, string | number | boolean>;
  /** Secret configuration items, by the environment variable that holds each value. */
  readonly secretConfigurations: Record<string, string>;
}

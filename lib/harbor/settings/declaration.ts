import { SecretKeyRef } from '../common';

/**
 * Harbor's settings as code: projects, robot accounts, replication, scanners, schedules and
 * user settings. Everything here lives in Harbor's database; a one-shot Job brings Harbor to
 * it through the REST API (see `HarborSettings`). Rendered by `renderSettings` into the
 * `SettingsDocument` the Job reads, checked by `checkSettings`.
 */
export interface HarborSettingsDeclaration {
  /** @default - no project is managed */
  readonly projects?: HarborProject[];

  /** @default - no robot account is managed */
  readonly robots?: HarborRobot[];

  /** Replication endpoints. @default - none */
  readonly registries?: ReplicationEndpoint[];

  /** @default - none */
  readonly replicationPolicies?: ReplicationPolicy[];

  /** Scanner registrations besides the built-in `Trivy`. @default - none */
  readonly scanners?: ScannerRegistration[];

  /** When every artifact is scanned again. @default - left as it is in Harbor */
  readonly scanAllSchedule?: ScanAllSchedule;

  /** CVEs every project that reuses the system list ignores. @default - left as it is */
  readonly systemCveAllowlist?: CveAllowlist;

  /** Where audit events go. @default - left as it is */
  readonly auditLog?: AuditLogSettings;

  /**
   * How users log in. Harbor changes the mode only while no user but `admin` exists.
   * @default - left as it is (a new Harbor uses its database)
   */
  readonly authentication?: HarborAuthentication;

  /** Who may create projects. @default - left as it is (everyone) */
  readonly projectCreationRestriction?: ProjectCreationRestriction;

  /** Days a new robot account is valid when it names no duration. @default - left as it is (30) */
  readonly robotTokenDuration?: number;

  /** Prefix of robot login names. @default - left as it is (`robot$`) */
  readonly robotNamePrefix?: string;

  /**
   * Whether people may sign up on the login page (database authentication only).
   * @default - left as it is (false)
   */
  readonly selfRegistration?: boolean;

  /**
   * How the user settings (authentication, audit log, the general settings above) reach
   * Harbor: through `PUT /configurations` by the Job, which leaves the UI's configuration page
   * usable (and its changes are undone at the next run); or through `CONFIG_OVERWRITE_JSON` on
   * core, applied at every core start, which locks the whole configuration page and makes core
   * crash-loop on a value Harbor rejects.
   * @default UserSettingsDelivery.API
   */
  readonly userSettingsVia?: UserSettingsDelivery;

  /**
   * Delete robots, registries, replication policies and scanners that the Job created earlier
   * and that are no longer declared. Projects are never deleted.
   * @default false
   */
  readonly prune?: boolean;
}

/** A project: the API's `ProjectReq` and its metadata. */
export interface HarborProject {
  /** Lowercase letters, digits and `._-`, starting and ending with a letter or digit. */
  readonly name: string;

  /** Anyone may pull without logging in. @default false */
  readonly public?: boolean;

  /** Scan every pushed artifact (metadata `auto_scan`). @default true */
  readonly scanOnPush?: boolean;

  /** Generate an SBOM for every pushed artifact (`auto_sbom_generation`). @default false */
  readonly sbomOnPush?: boolean;

  /**
   * Refuse pulls of artifacts without a signature of each kind listed. Harbor checks that a
   * signature exists, not who made it; key verification needs an admission controller.
   * @default - none enforced
   */
  readonly signatures?: SignatureEnforcement[];

  /** Refuse pulls of artifacts with vulnerabilities at or above a severity. @default - allowed */
  readonly preventVulnerable?: { readonly severity: Severity };

  /**
   * Storage quota: a size such as `10Gi` (`Mi`, `Gi`, `Ti`), a number of bytes, or `-1` /
   * `unlimited`. Quotas only apply while `quota_per_project_enable` is on (Harbor's default).
   * @default 'unlimited'
   */
  readonly storageLimit?: string | number;

  /**
   * The project's own CVE allowlist; with it, the project stops reusing the system list.
   * @default - the project's list is left as it is
   */
  readonly cveAllowlist?: CveAllowlist;

  /**
   * Use the system CVE allowlist instead of the project's own.
   * @default - true without `cveAllowlist`, false with it
   */
  readonly useSystemCveAllowlist?: boolean;

  /** A scanner registration: `Trivy` or one in `scanners`. @default - the system default */
  readonly scanner?: string;

  /** Tag retention. @default - any policy of the project is left alone */
  readonly retention?: RetentionPolicy;

  /**
   * The project holds Helm charts pushed as OCI artifacts (`helm push ... oci://`). Nothing
   * to deploy; it only rules out cosign enforcement, which makes `helm push` fail.
   * @default false
   */
  readonly helmCharts?: boolean;
}

/** Signature kinds Harbor can require; Notary was removed in Harbor 2.9. */
export enum SignatureEnforcement {
  COSIGN = 'cosign',
  NOTATION = 'notation',
}

/** Vulnerability severities as Harbor's `severity` metadata names them. */
export enum Severity {
  NONE = 'none',
  LOW = 'low',
  MEDIUM = 'medium',
  HIGH = 'high',
  CRITICAL = 'critical',
}

export interface CveAllowlist {
  /** CVE ids like `CVE-2024-3094`. */
  readonly items: string[];

  /** An ISO date (`2026-12-31`, UTC midnight) or date-time with zone. @default - never expires */
  readonly expiresAt?: string;
}

/** A tag retention policy: the API's `RetentionPolicy`. */
export interface RetentionPolicy {
  /** Up to 15 rules; an artifact is kept when any rule keeps it. */
  readonly rules: RetentionRule[];

  /** A 6-field Harbor cron (seconds first, `0`). @default - the policy runs only by hand */
  readonly schedule?: string;
}

export interface RetentionRule {
  readonly template: RetentionTemplate;

  /**
   * The template's number: how many artifacts the `latest*` templates keep, how many days the
   * day templates look back. Not used by `always`.
   * @default - none; required by every template but `always`
   */
  readonly param?: number;

  /** Doublestar pattern of tags the rule applies to. @default '**' */
  readonly tags?: string;

  /** The rule applies to the tags that do not match `tags`. @default false */
  readonly excludeTags?: boolean;

  /** Include artifacts without a tag. @default true */
  readonly untagged?: boolean;

  /** Doublestar pattern of repositories (without the project). @default '**' */
  readonly repositories?: string;

  /** The rule applies to the repositories that do not match `repositories`. @default false */
  readonly excludeRepositories?: boolean;

  /** @default false */
  readonly disabled?: boolean;
}

/** Retention templates, with Harbor's names; the number a template takes is `param`. */
export enum RetentionTemplate {
  ALWAYS = 'always',
  LATEST_PUSHED = 'latestPushedK',
  LATEST_PULLED = 'latestPulledN',
  LATEST_ACTIVE = 'latestActiveK',
  DAYS_SINCE_LAST_PUSH = 'nDaysSinceLastPush',
  DAYS_SINCE_LAST_PULL = 'nDaysSinceLastPull',
  LAST_X_DAYS = 'lastXDays',
}

/** A robot account: the API's `RobotCreate`. */
export interface HarborRobot {
  /** Lowercase letters, digits and `._-`; Harbor's login name adds the prefix (`robot$`). */
  readonly name: string;

  /** A system robot, or a robot of one project. */
  readonly level: RobotLevel;

  /** At least one; a project robot's permissions all apply to its project. */
  readonly permissions: RobotPermission[];

  /** @default '' */
  readonly description?: string;

  /** Days the credentials stay valid; -1 never expires. @default -1 */
  readonly duration?: number;

  /** @default false */
  readonly disabled?: boolean;

  /**
   * Where the Job puts the robot's credentials, as a `kubernetes.io/dockerconfigjson` Secret
   * that pods name in `imagePullSecrets`.
   * @default - Secret `<instance>-robot-<name>` in Harbor's namespace
   */
  readonly pullSecret?: RobotPullSecret;
}

export interface RobotPullSecret {
  /** @default - `<instance>-robot-<name>` */
  readonly name?: string;

  /** Namespaces that each get a copy, such as those of the pods that pull. @default - Harbor's */
  readonly namespaces?: string[];

  /**
   * ServiceAccounts, in each of `namespaces`, whose `imagePullSecrets` list the Secret, so
   * that their pods pull without naming it.
   * @default - none: pods name the Secret themselves
   */
  readonly serviceAccounts?: string[];
}

/** Whether a robot belongs to the system or to one project. */
export class RobotLevel {
  /** A system robot: may hold permissions on several projects, `*`, and system resources. */
  public static system(): RobotLevel {
    return new RobotLevel('system', undefined);
  }

  /** A robot of one declared project; deleted by Harbor with the project. */
  public static project(name: string): RobotLevel {
    return new RobotLevel('project', name);
  }

  private constructor(
    public readonly level: 'system' | 'project',
    public readonly project: string | undefined,
  ) {}
}

/** One `resource` + `action` pair of Harbor's RBAC (`src/common/rbac/const.go`). */
export interface RobotAccess {
  readonly resource: string;
  readonly action: string;
}

/** What a robot may do, on one project, on every project (`*`), or on the system. */
export class RobotPermission {
  /** Pull images, charts and signatures. */
  public static pull(project?: string): RobotPermission {
    return RobotPermission.project(PULL, project);
  }

  /** Push and pull, tag, and attach signatures and SBOMs: what a CI pipeline needs. */
  public static push(project?: string): RobotPermission {
    return RobotPermission.project(PUSH, project);
  }

  /**
   * Any project-scope access. `project` is a declared project or `*`; leave it out in a
   * project robot, whose project it is.
   */
  public static project(access: RobotAccess[], project?: string): RobotPermission {
    return new RobotPermission('project', project, access);
  }

  /** System-scope access, such as `{ resource: 'project', action: 'create' }`. */
  public static system(access: RobotAccess[]): RobotPermission {
    return new RobotPermission('system', '/', access);
  }

  private constructor(
    public readonly kind: 'project' | 'system',
    public readonly namespace: string | undefined,
    public readonly access: readonly RobotAccess[],
  ) {}
}

const PULL: RobotAccess[] = [
  { resource: 'repository', action: 'pull' },
  { resource: 'artifact', action: 'read' },
];

const PUSH: RobotAccess[] = [
  { resource: 'repository', action: 'pull' },
  { resource: 'repository', action: 'push' },
  { resource: 'artifact', action: 'read' },
  { resource: 'artifact', action: 'list' },
  { resource: 'tag', action: 'create' },
  { resource: 'tag', action: 'list' },
  { resource: 'accessory', action: 'list' },
];

/** A replication endpoint: the API's `Registry`. */
export interface ReplicationEndpoint {
  readonly name: string;
  readonly type: ReplicationEndpointType;
  /** `https://host[:port]`, without a path for most types. */
  readonly url: string;
  /** Skip TLS verification of `url`. @default false */
  readonly insecure?: boolean;
  /** @default '' */
  readonly description?: string;
  /** @default - anonymous access */
  readonly credential?: ReplicationCredential;
}

/** Registry types Harbor replicates with; those of `REPLICATION_ADAPTERS`. */
export enum ReplicationEndpointType {
  ALI_ACR = 'ali-acr',
  AWS_ECR = 'aws-ecr',
  AZURE_ACR = 'azure-acr',
  DOCKER_HUB = 'docker-hub',
  DOCKER_REGISTRY = 'docker-registry',
  GITHUB_GHCR = 'github-ghcr',
  GOOGLE_GCR = 'google-gcr',
  HARBOR = 'harbor',
  HUAWEI_SWR = 'huawei-SWR',
  JFROG_ARTIFACTORY = 'jfrog-artifactory',
  TENCENT_TCR = 'tencent-tcr',
  VOLCENGINE_CR = 'volcengine-cr',
}

export interface ReplicationCredential {
  /** @default ReplicationCredentialType.BASIC */
  readonly type?: ReplicationCredentialType;
  /** The user name or access key id. */
  readonly accessKey: SecretKeyRef;
  /** The password, token or secret key. */
  readonly accessSecret: SecretKeyRef;
}

export enum ReplicationCredentialType {
  BASIC = 'basic',
  OAUTH = 'oauth',
  SECRET = 'secret',
}

export interface ReplicationPolicy {
  readonly name: string;
  /** @default '' */
  readonly description?: string;
  /**
   * Copy from this registry into Harbor. Exactly one of `pullFrom` and `pushTo`.
   * @default - none: set pushTo
   */
  readonly pullFrom?: string;
  /**
   * Copy from Harbor to this registry.
   * @default - none: set pullFrom
   */
  readonly pushTo?: string;
  /** @default - selects everything */
  readonly filters?: ReplicationFilters;
  /** Where copies land; empty keeps the source's project or namespace. @default '' */
  readonly destNamespace?: string;
  /**
   * How many leading path parts `destNamespace` replaces; -1 is Harbor's legacy mode.
   * @default -1
   */
  readonly destNamespaceReplaceCount?: number;
  /** @default ReplicationTrigger.manual() */
  readonly trigger?: ReplicationTrigger;
  /** Overwrite artifacts of the same name at the destination. @default true */
  readonly override?: boolean;
  /** @default true */
  readonly enabled?: boolean;
  /** Delete at the destination what is deleted at the source. @default false */
  readonly replicateDeletion?: boolean;
  /** Bandwidth in KB/s; -1 or 0 is unlimited. @default -1 */
  readonly speed?: number;
  /** @default false */
  readonly copyByChunk?: boolean;
}

export interface ReplicationFilters {
  /** Doublestar pattern of repository names, such as `library/**`. @default - all */
  readonly name?: string;
  /** Doublestar pattern of tags, such as `v*`. @default - all */
  readonly tag?: string;
  /** Replicate the tags that do not match `tag`. @default false */
  readonly excludeTags?: boolean;
  /** @default - both */
  readonly resource?: ReplicationResource;
}

export enum ReplicationResource {
  IMAGE = 'image',
  ARTIFACT = 'artifact',
}

/** When a replication policy runs. */
export class ReplicationTrigger {
  public static manual(): ReplicationTrigger {
    return new ReplicationTrigger('manual', undefined);
  }

  /** On a 6-field Harbor cron, seconds first and `0`: `0 0 2 * * *` is 02:00 daily. */
  public static scheduled(cron: string): ReplicationTrigger {
    return new ReplicationTrigger('scheduled', cron);
  }

  /** On every push and delete in Harbor; push policies only. */
  public static eventBased(): ReplicationTrigger {
    return new ReplicationTrigger('event_based', undefined);
  }

  private constructor(
    public readonly type: 'manual' | 'scheduled' | 'event_based',
    public readonly cron: string | undefined,
  ) {}
}

/** A scanner adapter registration: the API's `ScannerRegistrationReq`. */
export interface ScannerRegistration {
  readonly name: string;
  /** The adapter's base URL, such as `http://scanner.tools:8080`. */
  readonly url: string;
  /** @default '' */
  readonly description?: string;
  /** @default ScannerAuth.none() */
  readonly auth?: ScannerAuth;
  /** @default false */
  readonly skipCertVerify?: boolean;
  /** The scanner pulls through Harbor's internal address. @default false */
  readonly useInternalAddress?: boolean;
  /** Make it the system default scanner. At most one. @default false */
  readonly default?: boolean;
}

/** How Harbor authenticates to a scanner adapter; the Secret key holds `access_credential`. */
export class ScannerAuth {
  public static none(): ScannerAuth {
    return new ScannerAuth('', undefined);
  }

  public static basic(credential: SecretKeyRef): ScannerAuth {
    return new ScannerAuth('Basic', credential);
  }

  public static bearer(credential: SecretKeyRef): ScannerAuth {
    return new ScannerAuth('Bearer', credential);
  }

  /** The `X-ScannerAdapter-API-Key` header. */
  public static apiKey(credential: SecretKeyRef): ScannerAuth {
    return new ScannerAuth('X-ScannerAdapter-API-Key', credential);
  }

  private constructor(
    public readonly type: '' | 'Basic' | 'Bearer' | 'X-ScannerAdapter-API-Key',
    public readonly credential: SecretKeyRef | undefined,
  ) {}
}

/** When Harbor scans every artifact again. */
export class ScanAllSchedule {
  public static hourly(): ScanAllSchedule {
    return new ScanAllSchedule('Hourly', '0 0 * * * *');
  }

  public static daily(): ScanAllSchedule {
    return new ScanAllSchedule('Daily', '0 0 0 * * *');
  }

  /** Sundays at midnight. */
  public static weekly(): ScanAllSchedule {
    return new ScanAllSchedule('Weekly', '0 0 0 * * 0');
  }

  /** Never on a schedule; a scan-all still runs by hand. */
  public static none(): ScanAllSchedule {
    return new ScanAllSchedule('None', undefined);
  }

  /** A 6-field Harbor cron, seconds first and `0`. */
  public static custom(cron: string): ScanAllSchedule {
    return new ScanAllSchedule('Custom', cron);
  }

  private constructor(
    public readonly type: 'Hourly' | 'Daily' | 'Weekly' | 'Custom' | 'None',
    public readonly cron: string | undefined,
  ) {}
}

export interface AuditLogSettings {
  /** A syslog `host:port` that core can reach when the setting is applied. @default - none */
  readonly forwardEndpoint?: string;
  /** Keep audit events out of the database; needs `forwardEndpoint`. @default false */
  readonly skipDatabase?: boolean;
  /** Event types not logged, such as `pull_artifact`. @default - none */
  readonly disabledEventTypes?: string[];
}

export enum ProjectCreationRestriction {
  EVERYONE = 'everyone',
  ADMIN_ONLY = 'adminonly',
}

export enum UserSettingsDelivery {
  /** `PUT /configurations` by the Job; the UI's configuration page stays editable. */
  API = 'api',
  /** `CONFIG_OVERWRITE_JSON` on core; the UI's configuration page is read-only. */
  ENVIRONMENT = 'environment',
}

/** LDAP search scopes, as Harbor numbers them. */
export enum LdapScope {
  BASE = 0,
  ONE_LEVEL = 1,
  SUBTREE = 2,
}

export interface OidcOptions {
  /** The name on the login button, such as `Vault`. */
  readonly name: string;
  /** The issuer URL. Register `<externalURL>/c/oidc/callback` as redirect URI at the provider. */
  readonly endpoint: string;
  readonly clientId: string;
  readonly clientSecret: SecretKeyRef;
  /** Must contain `openid`. @default ['openid', 'profile', 'email', 'offline_access'] */
  readonly scope?: string[];
  /** The claim that becomes the user name. @default - Harbor asks each new user */
  readonly userClaim?: string;
  /** @default - no groups */
  readonly groupsClaim?: string;
  /** Members of this group are Harbor administrators. @default - none */
  readonly adminGroup?: string;
  /** A regular expression of the groups to keep. @default - all */
  readonly groupFilter?: string;
  /** @default true */
  readonly verifyCert?: boolean;
  /** Create users without asking, with `userClaim` as name. @default false */
  readonly autoOnboard?: boolean;
  /** Log out of the provider too. @default false */
  readonly logout?: boolean;
  /** Extra parameters of the authorization request. @default - none */
  readonly extraRedirectParams?: Record<string, string>;
}

export interface LdapOptions {
  /** `ldaps://host[:port]` or `ldap://host[:port]`. */
  readonly url: string;
  /** The DN that searches; anonymous search without. @default - anonymous */
  readonly searchDn?: string;
  /** @default - none (anonymous search) */
  readonly searchPassword?: SecretKeyRef;
  readonly baseDn: string;
  /** @default '' */
  readonly filter?: string;
  /** @default 'uid' */
  readonly uid?: string;
  /** @default LdapScope.SUBTREE */
  readonly scope?: LdapScope;
  /** Seconds. @default 5 */
  readonly timeout?: number;
  /** @default true */
  readonly verifyCert?: boolean;
  /** @default '' */
  readonly groupBaseDn?: string;
  /** @default '' */
  readonly groupSearchFilter?: string;
  /** @default '' */
  readonly groupAttributeName?: string;
  /** @default LdapScope.SUBTREE */
  readonly groupSearchScope?: LdapScope;
  /** Members of this group are Harbor administrators. @default '' */
  readonly groupAdminDn?: string;
  /** @default 'memberof' */
  readonly groupMembershipAttribute?: string;
}

/** How users log in to Harbor; the built-in `admin` can always log in with its password. */
export class HarborAuthentication {
  /** Users kept in Harbor's database (a new Harbor's mode). */
  public static database(): HarborAuthentication {
    return new HarborAuthentication('db_auth', undefined, undefined);
  }

  /** An OpenID Connect provider; CLI logins then use each user's CLI secret. */
  public static oidc(options: OidcOptions): HarborAuthentication {
    return new HarborAuthentication('oidc_auth', options, undefined);
  }

  public static ldap(options: LdapOptions): HarborAuthentication {
    return new HarborAuthentication('ldap_auth', undefined, options);
  }

  private constructor(
    public readonly mode: 'db_auth' | 'oidc_auth' | 'ldap_auth',
    public readonly oidcOptions: OidcOptions | undefined,
    public readonly ldapOptions: LdapOptions | undefined,
  ) {}
}

/** Scanner Harbor registers itself when Trivy is deployed. */
export const BUILT_IN_SCANNER = 'Trivy';

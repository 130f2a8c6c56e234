import {
  CveAllowlistDocument,
  ProjectDocument,
  RegistryDocument,
  ReplicationDocument,
  ReplicationFilterDocument,
  RetentionDocument,
  RetentionRuleDocument,
  RobotDocument,
  RobotPermissionDocument,
  ScannerDocument,
  ScheduleDocument,
  SettingsDocument,
} from './document';
import { dataKey, httpUrl, label, ldapUrl, objectName } from '../../private/checks';
import { Problems, show } from '../../private/validation';
import { SecretKeyRef } from '../common';
import { REPLICATION_ADAPTERS } from '../core';

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

  /** Whether people may sign up on the login page (database authentication only). */
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
  /** Copy from this registry into Harbor. Exactly one of `pullFrom` and `pushTo`. */
  readonly pullFrom?: string;
  /** Copy from Harbor to this registry. */
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

/** What the settings Job works in; known only when Harbor itself is being built. */
export interface RenderContext {
  /** The ownership marker written into what the Job creates. */
  readonly owner: string;
  /** The registry host[:port] clients pull from: the key under `auths`. */
  readonly registry: string;
  /** Harbor's namespace. */
  readonly namespace: string;
  /** Harbor's instance name, which default object names start with. */
  readonly instance: string;
}

export interface RenderedSettings {
  readonly document: SettingsDocument;
  /** Every environment variable the document names, and the Secret key it comes from. */
  readonly env: Record<string, SecretKeyRef>;
  /** With `UserSettingsDelivery.ENVIRONMENT`: the keys of `CONFIG_OVERWRITE_JSON`. */
  readonly overwrite?: {
    readonly json: Record<string, string | number | boolean>;
    readonly secrets: Record<string, SecretKeyRef>;
  };
}

/** Scanner Harbor registers itself when Trivy is deployed. */
export const BUILT_IN_SCANNER = 'Trivy';

const NAME = /^[a-z0-9]+(?:[._-][a-z0-9]+)*$/;
const CVE = /^CVE-\d{4}-\d{4,}$/;
const EVENT_TYPE = /^[a-z]+(_[a-z]+)+$/;
const MAX_RETENTION_RULES = 15;
const DEFAULT_OIDC_SCOPE = ['openid', 'profile', 'email', 'offline_access'];

/** Records every problem of a declaration under `field`, the path the user wrote it at. */
export function checkSettings(
  problems: Problems,
  field: string,
  d: HarborSettingsDeclaration,
): void {
  const projects = new Set((d.projects ?? []).map((p) => p.name));
  const registries = new Set((d.registries ?? []).map((r) => r.name));
  const scanners = new Set((d.scanners ?? []).map((s) => s.name));

  unique(problems, `${field}.projects`, d.projects);
  (d.projects ?? []).forEach((p, i) =>
    checkProject(problems, `${field}.projects[${i}]`, p, scanners),
  );

  unique(problems, `${field}.robots`, d.robots);
  (d.robots ?? []).forEach((r, i) => checkRobot(problems, `${field}.robots[${i}]`, r, projects));

  unique(problems, `${field}.registries`, d.registries);
  (d.registries ?? []).forEach((r, i) => checkRegistry(problems, `${field}.registries[${i}]`, r));

  unique(problems, `${field}.replicationPolicies`, d.replicationPolicies);
  (d.replicationPolicies ?? []).forEach((p, i) =>
    checkPolicy(problems, `${field}.replicationPolicies[${i}]`, p, registries),
  );

  unique(problems, `${field}.scanners`, d.scanners);
  (d.scanners ?? []).forEach((s, i) => checkScanner(problems, `${field}.scanners[${i}]`, s));
  const defaults = (d.scanners ?? []).filter((s) => s.default).map((s) => s.name);
  problems.check(
    defaults.length <= 1,
    `${field}.scanners`,
    `${show(defaults)} are all marked default; mark at most one scanner as default`,
  );

  if (d.scanAllSchedule) {
    checkSchedule(problems, `${field}.scanAllSchedule`, d.scanAllSchedule);
  }
  if (d.systemCveAllowlist) {
    checkAllowlist(problems, `${field}.systemCveAllowlist`, d.systemCveAllowlist);
  }
  if (d.auditLog) checkAuditLog(problems, `${field}.auditLog`, d.auditLog);
  if (d.authentication) {
    checkAuthentication(problems, `${field}.authentication`, d.authentication);
  }

  checkGeneral(problems, field, d);
}

function checkProject(
  problems: Problems,
  field: string,
  p: HarborProject,
  scanners: ReadonlySet<string>,
): void {
  problems.value(`${field}.name`, p.name, projectName);

  const signatures: string[] = p.signatures ?? [];
  signatures.forEach((s, i) => {
    if (/notary/i.test(String(s))) {
      problems.add(
        `${field}.signatures[${i}]`,
        `${show(s)}: Notary is not supported; Harbor 2.9 removed it. Sign with cosign or` +
          ` notation and enforce 'cosign' or 'notation'`,
      );
    } else if (!oneOf(SignatureEnforcement, s)) {
      problems.add(
        `${field}.signatures[${i}]`,
        `${show(s)} is not ${choices(SignatureEnforcement)}`,
      );
    }
  });
  if (p.helmCharts && signatures.includes(SignatureEnforcement.COSIGN)) {
    problems.add(
      `${field}.signatures`,
      `${show(signatures)} enforces cosign on a project with helmCharts: true; Harbor then` +
        ` refuses the tag step of 'helm push' (412 "not signed by cosign"). Keep charts in a` +
        ` project without cosign enforcement`,
    );
  }

  if (p.preventVulnerable) {
    problems.value(`${field}.preventVulnerable.severity`, p.preventVulnerable.severity, (v) =>
      oneOf(Severity, v) ? undefined : `is not a severity; use ${choices(Severity)}`,
    );
  }
  problems.value(`${field}.storageLimit`, p.storageLimit, quota);

  if (p.cveAllowlist) checkAllowlist(problems, `${field}.cveAllowlist`, p.cveAllowlist);
  problems.check(
    !(p.cveAllowlist && p.useSystemCveAllowlist),
    `${field}.useSystemCveAllowlist`,
    'true contradicts cveAllowlist, which Harbor would then ignore; leave out one of them',
  );

  problems.value(`${field}.scanner`, p.scanner, (v) =>
    v === BUILT_IN_SCANNER || scanners.has(v)
      ? undefined
      : `is neither '${BUILT_IN_SCANNER}' nor a scanner declared in scanners`,
  );
  if (p.retention) checkRetention(problems, `${field}.retention`, p.retention);
}

function checkRetention(problems: Problems, field: string, r: RetentionPolicy): void {
  const count = r.rules?.length ?? 0;
  problems.check(
    count >= 1 && count <= MAX_RETENTION_RULES,
    `${field}.rules`,
    `has ${count} rules; Harbor takes 1 to ${MAX_RETENTION_RULES}`,
  );
  problems.value(`${field}.schedule`, r.schedule, harborCron);

  (r.rules ?? []).forEach((rule, i) => {
    const at = `${field}.rules[${i}]`;
    if (!oneOf(RetentionTemplate, rule.template)) {
      problems.add(`${at}.template`, `${show(rule.template)} is not ${choices(RetentionTemplate)}`);
    } else if (rule.template === RetentionTemplate.ALWAYS) {
      problems.check(
        rule.param === undefined,
        `${at}.param`,
        `${show(rule.param)} is not used by 'always'; leave it out`,
      );
    } else {
      problems.check(
        Number.isSafeInteger(rule.param) && (rule.param ?? 0) >= 1,
        `${at}.param`,
        `${show(rule.param)} is not a whole number of at least 1, which '${rule.template}' needs`,
      );
    }
    problems.value(`${at}.tags`, rule.tags, pattern);
    problems.value(`${at}.repositories`, rule.repositories, pattern);
  });
}

function checkAllowlist(problems: Problems, field: string, a: CveAllowlist): void {
  (a.items ?? []).forEach((item, i) => {
    problems.value(`${field}.items[${i}]`, item, (v) =>
      CVE.test(v) ? undefined : 'is not a CVE id; use the form CVE-2024-3094',
    );
    problems.check(
      a.items.indexOf(item) === i,
      `${field}.items[${i}]`,
      `${show(item)} is listed twice, which Harbor refuses; list each CVE once`,
    );
  });
  problems.value(`${field}.expiresAt`, a.expiresAt, (v) =>
    unixSeconds(v) === undefined
      ? 'is not an ISO date; use "2026-12-31" or "2026-12-31T18:00:00Z"'
      : undefined,
  );
}

function checkRobot(
  problems: Problems,
  field: string,
  r: HarborRobot,
  projects: ReadonlySet<string>,
): void {
  problems.value(`${field}.name`, r.name, robotName);
  problems.value(`${field}.duration`, r.duration, (v) =>
    Number.isSafeInteger(v) && (v === -1 || (v >= 1 && v < 2 ** 31))
      ? undefined
      : 'is not a duration Harbor keeps; use -1 (never expires) or a number of days from 1',
  );

  const project = r.level?.project;
  if (!r.level) {
    problems.add(
      `${field}.level`,
      'is not set; use RobotLevel.system() or RobotLevel.project(name)',
    );
  } else if (r.level.level === 'project') {
    problems.value(`${field}.level.project`, project, (v) =>
      projects.has(v) ? undefined : 'is not a project declared in projects; declare it there',
    );
  }

  problems.check(
    (r.permissions ?? []).length > 0,
    `${field}.permissions`,
    'is empty; give at least one, such as RobotPermission.pull()',
  );
  (r.permissions ?? []).forEach((p, i) => {
    const at = `${field}.permissions[${i}]`;
    checkPermissionScope(problems, at, p, r.level, projects);
    p.access.forEach((a, j) => {
      const allowed = p.kind === 'system' ? SYSTEM_ACCESS : PROJECT_ACCESS;
      problems.check(
        (allowed[a.resource] ?? []).includes(a.action),
        `${at}.access[${j}]`,
        `${show(a)} is not a ${p.kind} permission Harbor grants robots; see` +
          ' src/common/rbac/const.go (PoliciesMap) for the resource and action pairs',
      );
    });
  });

  if (r.pullSecret) {
    problems.value(`${field}.pullSecret.name`, r.pullSecret.name, objectName);
    (r.pullSecret.namespaces ?? []).forEach((ns, i) =>
      problems.value(`${field}.pullSecret.namespaces[${i}]`, ns, label),
    );
    (r.pullSecret.serviceAccounts ?? []).forEach((sa, i) =>
      problems.value(`${field}.pullSecret.serviceAccounts[${i}]`, sa, objectName),
    );
  }
}

function checkPermissionScope(
  problems: Problems,
  field: string,
  p: RobotPermission,
  level: RobotLevel | undefined,
  projects: ReadonlySet<string>,
): void {
  if (level?.level === 'project') {
    if (p.kind === 'system') {
      problems.add(field, 'is a system permission; a project robot holds project ones only');
    } else if (p.namespace !== undefined && p.namespace !== level.project) {
      problems.add(
        field,
        `${show(p.namespace)} is outside the robot's project ${show(level.project)}; a project` +
          ' robot acts on its own project only: leave the project out, or use a system robot',
      );
    }
    return;
  }
  if (p.kind === 'system') return;

  if (p.namespace === undefined) {
    problems.add(
      `${field}`,
      "names no project; a system robot's project permission needs a project or '*'",
    );
  } else if (p.namespace !== '*' && !projects.has(p.namespace)) {
    problems.add(
      `${field}`,
      `${show(p.namespace)} is not a project declared in projects; declare it, or use '*' for` +
        ' every project',
    );
  }
}

/** Two robots' credentials must not overwrite each other's Secret. */
function checkRegistry(problems: Problems, field: string, r: ReplicationEndpoint): void {
  problems.value(`${field}.name`, r.name, nonEmpty);
  problems.value(`${field}.type`, r.type as string, (v) =>
    REPLICATION_ADAPTERS.includes(v)
      ? undefined
      : 'is not a replication type Harbor is allowed to use; use one of ' +
        REPLICATION_ADAPTERS.join(', '),
  );
  problems.value(`${field}.url`, r.url, httpUrl);
  if (r.credential) {
    problems.value(`${field}.credential.type`, r.credential.type, (v) =>
      oneOf(ReplicationCredentialType, v)
        ? undefined
        : `is not ${choices(ReplicationCredentialType)}`,
    );
    checkRef(problems, `${field}.credential.accessKey`, r.credential.accessKey);
    checkRef(problems, `${field}.credential.accessSecret`, r.credential.accessSecret);
  }
}

function checkPolicy(
  problems: Problems,
  field: string,
  p: ReplicationPolicy,
  registries: ReadonlySet<string>,
): void {
  problems.value(`${field}.name`, p.name, nonEmpty);
  if ((p.pullFrom === undefined) === (p.pushTo === undefined)) {
    problems.add(
      field,
      `sets ${p.pullFrom === undefined ? 'neither' : 'both'} pullFrom and pushTo; a policy` +
        ' either pulls from a registry or pushes to one: set exactly one',
    );
  }
  for (const key of ['pullFrom', 'pushTo'] as const) {
    problems.value(`${field}.${key}`, p[key], (v) =>
      registries.has(v) ? undefined : 'is not a registry declared in registries; declare it there',
    );
  }

  const trigger = p.trigger;
  if (trigger?.type === 'scheduled') {
    if (!trigger.cron) {
      problems.add(`${field}.trigger`, 'is scheduled without a cron; give one, like "0 0 2 * * *"');
    } else {
      problems.value(`${field}.trigger.cron`, trigger.cron, harborCron);
    }
  }
  problems.check(
    !(trigger?.type === 'event_based' && p.pullFrom !== undefined),
    `${field}.trigger`,
    'is event based on a pull policy; Harbor sees no events of another registry: use a' +
      ' scheduled or manual trigger',
  );

  problems.value(`${field}.destNamespaceReplaceCount`, p.destNamespaceReplaceCount, (v) =>
    Number.isInteger(v) && v >= -1 && v <= 127 ? undefined : 'is not a whole number from -1 to 127',
  );
  problems.value(`${field}.speed`, p.speed, (v) =>
    Number.isInteger(v) && v >= -1 && v < 2 ** 31
      ? undefined
      : 'is not KB/s Harbor keeps; use -1 (unlimited) or a whole number up to 2147483647',
  );
  problems.value(`${field}.filters.name`, p.filters?.name, pattern);
  problems.value(`${field}.filters.tag`, p.filters?.tag, pattern);
  problems.value(`${field}.filters.resource`, p.filters?.resource, (v) =>
    oneOf(ReplicationResource, v) ? undefined : `is not ${choices(ReplicationResource)}`,
  );
}

function checkScanner(problems: Problems, field: string, s: ScannerRegistration): void {
  problems.value(
    `${field}.name`,
    s.name,
    (v) =>
      nonEmpty(v) ??
      (v === BUILT_IN_SCANNER
        ? `is the scanner Harbor registers itself; give yours another name`
        : undefined),
  );
  problems.value(`${field}.url`, s.url, httpUrl);
  if (s.auth?.type && !s.auth.credential) {
    problems.add(`${field}.auth`, `${show(s.auth.type)} needs a credential Secret key`);
  }
  if (s.auth?.credential) checkRef(problems, `${field}.auth.credential`, s.auth.credential);
}

function checkSchedule(problems: Problems, field: string, s: ScanAllSchedule): void {
  if (s.type !== 'Custom') return;
  if (!s.cron) problems.add(field, 'is custom without a cron; give one, like "0 0 2 * * *"');
  else problems.value(`${field}.cron`, s.cron, harborCron);
}

function checkAuditLog(problems: Problems, field: string, a: AuditLogSettings): void {
  problems.value(`${field}.forwardEndpoint`, a.forwardEndpoint, hostPort);
  problems.check(
    !(a.skipDatabase && !a.forwardEndpoint),
    `${field}.skipDatabase`,
    'true without forwardEndpoint would drop every audit event, which Harbor refuses; set' +
      ' forwardEndpoint too',
  );
  (a.disabledEventTypes ?? []).forEach((t, i) =>
    problems.value(`${field}.disabledEventTypes[${i}]`, t, (v) =>
      EVENT_TYPE.test(v) ? undefined : 'is not an audit event type, such as "pull_artifact"',
    ),
  );
}

function checkAuthentication(problems: Problems, field: string, a: HarborAuthentication): void {
  const oidc = a.oidcOptions;
  if (oidc) {
    problems.value(`${field}.name`, oidc.name, nonEmpty);
    problems.value(`${field}.endpoint`, oidc.endpoint, httpUrl);
    problems.value(`${field}.clientId`, oidc.clientId, nonEmpty);
    checkRef(problems, `${field}.clientSecret`, oidc.clientSecret);
    problems.value(`${field}.scope`, oidc.scope, (v) =>
      v.includes('openid') ? undefined : "lacks 'openid', without which there is no login",
    );
  }

  const ldap = a.ldapOptions;
  if (ldap) {
    problems.value(`${field}.url`, ldap.url, ldapUrl);
    problems.value(`${field}.baseDn`, ldap.baseDn, nonEmpty);
    if (ldap.searchPassword) checkRef(problems, `${field}.searchPassword`, ldap.searchPassword);
    problems.check(
      !(ldap.searchPassword && !ldap.searchDn),
      `${field}.searchDn`,
      'is not set while searchPassword is; give the DN the password belongs to',
    );
    for (const key of ['scope', 'groupSearchScope'] as const) {
      problems.value(`${field}.${key}`, ldap[key], (v) =>
        oneOf(LdapScope, v) ? undefined : 'is not an LDAP scope; use 0 (base), 1 or 2 (subtree)',
      );
    }
    problems.value(`${field}.timeout`, ldap.timeout, positiveInteger);
  }
}

function checkGeneral(problems: Problems, field: string, d: HarborSettingsDeclaration): void {
  problems.value(`${field}.projectCreationRestriction`, d.projectCreationRestriction, (v) =>
    oneOf(ProjectCreationRestriction, v)
      ? undefined
      : `is not ${choices(ProjectCreationRestriction)}`,
  );
  problems.value(`${field}.robotTokenDuration`, d.robotTokenDuration, positiveInteger);
  problems.value(`${field}.robotNamePrefix`, d.robotNamePrefix, (v) =>
    v.length > 0 && !/\s/.test(v) ? undefined : 'is not a prefix; use e.g. "robot$"',
  );
  problems.value(`${field}.userSettingsVia`, d.userSettingsVia, (v) =>
    oneOf(UserSettingsDelivery, v) ? undefined : `is not ${choices(UserSettingsDelivery)}`,
  );
}

/** Renders a declaration that `checkSettings` accepts into the Job's document. */
export function renderSettings(
  d: HarborSettingsDeclaration,
  context: RenderContext,
): RenderedSettings {
  const env = new EnvNames();
  const viaEnvironment = d.userSettingsVia === UserSettingsDelivery.ENVIRONMENT;
  const settings = userSettings(d, env, !viaEnvironment);

  const document: SettingsDocument = {
    apiVersion: 'cdk8s-harbor/v1',
    owner: context.owner,
    prune: d.prune ?? false,
    robotNamePrefix: d.robotNamePrefix ?? 'robot$',
    projects: (d.projects ?? []).map(projectDocument),
    robots: (d.robots ?? []).map((r) => robotDocument(r, context)),
    registries: (d.registries ?? []).map((r) => registryDocument(r, env)),
    replicationPolicies: (d.replicationPolicies ?? []).map(policyDocument),
    scanners: (d.scanners ?? []).map((s) => scannerDocument(s, env)),
    scanAllSchedule: d.scanAllSchedule ? scheduleDocument(d.scanAllSchedule) : null,
    systemCveAllowlist: d.systemCveAllowlist ? allowlistDocument(d.systemCveAllowlist) : null,
    configurations: viaEnvironment ? {} : settings.json,
    secretConfigurations: viaEnvironment ? {} : settings.secretEnv,
  };

  return {
    document,
    env: env.refs,
    ...(viaEnvironment ? { overwrite: { json: settings.json, secrets: settings.secrets } } : {}),
  };
}

function projectDocument(p: HarborProject): ProjectDocument {
  const signatures: string[] = p.signatures ?? [];
  const reuseSystem = p.useSystemCveAllowlist ?? !p.cveAllowlist;

  return {
    name: p.name,
    metadata: {
      public: String(p.public ?? false),
      auto_scan: String(p.scanOnPush ?? true),
      auto_sbom_generation: String(p.sbomOnPush ?? false),
      enable_content_trust: String(signatures.includes(SignatureEnforcement.NOTATION)),
      enable_content_trust_cosign: String(signatures.includes(SignatureEnforcement.COSIGN)),
      prevent_vul: String(p.preventVulnerable !== undefined),
      // Harbor's portal default; without prevent_vul it has no effect
      severity: p.preventVulnerable?.severity ?? Severity.LOW,
      reuse_sys_cve_allowlist: String(reuseSystem),
    },
    storageLimit: bytesOfQuota(p.storageLimit ?? 'unlimited'),
    cveAllowlist: p.cveAllowlist ? allowlistDocument(p.cveAllowlist) : null,
    scanner: p.scanner ?? null,
    retention: p.retention ? retentionDocument(p.retention) : null,
  };
}

function retentionDocument(r: RetentionPolicy): RetentionDocument {
  return { algorithm: 'or', rules: r.rules.map(retentionRule), cron: r.schedule ?? null };
}

function retentionRule(rule: RetentionRule): RetentionRuleDocument {
  const always = rule.template === RetentionTemplate.ALWAYS;
  return {
    disabled: rule.disabled ?? false,
    action: 'retain',
    template: rule.template,
    params: always ? {} : { [rule.template]: rule.param as number },
    tag_selectors: [
      {
        kind: 'doublestar',
        decoration: rule.excludeTags ? 'excludes' : 'matches',
        pattern: rule.tags ?? '**',
        extras: JSON.stringify({ untagged: rule.untagged ?? true }),
      },
    ],
    scope_selectors: {
      repository: [
        {
          kind: 'doublestar',
          decoration: rule.excludeRepositories ? 'repoExcludes' : 'repoMatches',
          pattern: rule.repositories ?? '**',
        },
      ],
    },
  };
}

function allowlistDocument(a: CveAllowlist): CveAllowlistDocument {
  return {
    items: [...a.items],
    expiresAt: a.expiresAt === undefined ? null : (unixSeconds(a.expiresAt) ?? null),
  };
}

function robotDocument(r: HarborRobot, context: RenderContext): RobotDocument {
  return {
    name: r.name,
    level: r.level.level,
    description: r.description ?? '',
    duration: r.duration ?? -1,
    disable: r.disabled ?? false,
    permissions: mergedPermissions(r),
    secret: {
      name: r.pullSecret?.name ?? defaultSecretName(context.instance, r.name),
      namespaces: [...(r.pullSecret?.namespaces ?? [context.namespace])],
      registry: context.registry,
    },
  };
}

/** One entry per kind and namespace, as Harbor keeps them, in the order first declared. */
function mergedPermissions(r: HarborRobot): RobotPermissionDocument[] {
  const merged = new Map<
    string,
    { kind: 'project' | 'system'; namespace: string; access: RobotAccess[] }
  >();
  for (const p of r.permissions) {
    const namespace = p.namespace ?? r.level.project ?? '*';
    const key = `${p.kind} ${namespace}`;
    const entry = merged.get(key) ?? { kind: p.kind, namespace, access: [] };
    for (const a of p.access) {
      if (!entry.access.some((b) => b.resource === a.resource && b.action === a.action)) {
        entry.access.push({ resource: a.resource, action: a.action });
      }
    }
    merged.set(key, entry);
  }
  return [...merged.values()];
}

function defaultSecretName(instance: string, robot: string): string {
  return `${instance}-robot-${robot.replace(/_/g, '-')}`;
}

function registryDocument(r: ReplicationEndpoint, env: EnvNames): RegistryDocument {
  const credential = r.credential;
  const base = `HARBOR_REGISTRY_${env.part(r.name)}`;
  return {
    name: r.name,
    type: r.type,
    url: r.url,
    insecure: r.insecure ?? false,
    description: r.description ?? '',
    credential: credential
      ? {
          type: credential.type ?? ReplicationCredentialType.BASIC,
          ...env.pair(base, credential.accessKey, credential.accessSecret),
        }
      : null,
  };
}

function policyDocument(p: ReplicationPolicy): ReplicationDocument {
  const filters: ReplicationFilterDocument[] = [];
  if (p.filters?.name) filters.push({ type: 'name', value: p.filters.name });
  if (p.filters?.tag) {
    const decoration = p.filters.excludeTags ? 'excludes' : 'matches';
    filters.push({ type: 'tag', value: p.filters.tag, decoration });
  }
  if (p.filters?.resource) filters.push({ type: 'resource', value: p.filters.resource });

  const trigger = p.trigger ?? ReplicationTrigger.manual();
  return {
    name: p.name,
    description: p.description ?? '',
    srcRegistry: p.pullFrom ?? null,
    destRegistry: p.pushTo ?? null,
    destNamespace: p.destNamespace ?? '',
    destNamespaceReplaceCount: p.destNamespaceReplaceCount ?? -1,
    filters,
    trigger: { type: trigger.type, cron: trigger.cron ?? null },
    override: p.override ?? true,
    enabled: p.enabled ?? true,
    replicateDeletion: p.replicateDeletion ?? false,
    speed: p.speed ?? -1,
    copyByChunk: p.copyByChunk ?? false,
  };
}

function scannerDocument(s: ScannerRegistration, env: EnvNames): ScannerDocument {
  const auth = s.auth ?? ScannerAuth.none();
  return {
    name: s.name,
    url: s.url,
    description: s.description ?? '',
    auth: auth.type,
    accessCredentialEnv: auth.credential
      ? env.add(`HARBOR_SCANNER_${env.part(s.name)}_CREDENTIAL`, auth.credential)
      : null,
    skipCertVerify: s.skipCertVerify ?? false,
    useInternalAddr: s.useInternalAddress ?? false,
    default: s.default ?? false,
  };
}

function scheduleDocument(s: ScanAllSchedule): ScheduleDocument {
  return { type: s.type, cron: s.cron ?? null };
}

interface UserSettings {
  readonly json: Record<string, string | number | boolean>;
  /** Configuration key to the Secret key it comes from. */
  readonly secrets: Record<string, SecretKeyRef>;
  /** Configuration key to the environment variable the Job reads it from. */
  readonly secretEnv: Record<string, string>;
}

/** The user-scope configuration items, with Harbor's key names and native JSON types. */
function userSettings(d: HarborSettingsDeclaration, env: EnvNames, viaJob: boolean): UserSettings {
  const json: Record<string, string | number | boolean> = {};
  const secrets: Record<string, SecretKeyRef> = {};
  const secretEnv: Record<string, string> = {};
  const secret = (key: string, ref: SecretKeyRef) => {
    secrets[key] = ref;
    if (viaJob) secretEnv[key] = env.add(`HARBOR_${key.toUpperCase()}`, ref);
  };

  const auth = d.authentication;
  if (auth) json.auth_mode = auth.mode;
  const oidc = auth?.oidcOptions;
  if (oidc) {
    Object.assign(json, {
      oidc_name: oidc.name,
      oidc_endpoint: oidc.endpoint,
      oidc_client_id: oidc.clientId,
      oidc_scope: (oidc.scope ?? DEFAULT_OIDC_SCOPE).join(','),
      oidc_user_claim: oidc.userClaim ?? '',
      oidc_groups_claim: oidc.groupsClaim ?? '',
      oidc_admin_group: oidc.adminGroup ?? '',
      oidc_group_filter: oidc.groupFilter ?? '',
      oidc_verify_cert: oidc.verifyCert ?? true,
      oidc_auto_onboard: oidc.autoOnboard ?? false,
      oidc_logout: oidc.logout ?? false,
      oidc_extra_redirect_parms: JSON.stringify(oidc.extraRedirectParams ?? {}),
    });
    secret('oidc_client_secret', oidc.clientSecret);
  }
  const ldap = auth?.ldapOptions;
  if (ldap) {
    Object.assign(json, {
      ldap_url: ldap.url,
      ldap_search_dn: ldap.searchDn ?? '',
      ldap_base_dn: ldap.baseDn,
      ldap_filter: ldap.filter ?? '',
      ldap_uid: ldap.uid ?? 'uid',
      ldap_scope: ldap.scope ?? LdapScope.SUBTREE,
      ldap_timeout: ldap.timeout ?? 5,
      ldap_verify_cert: ldap.verifyCert ?? true,
      ldap_group_base_dn: ldap.groupBaseDn ?? '',
      ldap_group_search_filter: ldap.groupSearchFilter ?? '',
      ldap_group_attribute_name: ldap.groupAttributeName ?? '',
      ldap_group_search_scope: ldap.groupSearchScope ?? LdapScope.SUBTREE,
      ldap_group_admin_dn: ldap.groupAdminDn ?? '',
      ldap_group_membership_attribute: ldap.groupMembershipAttribute ?? 'memberof',
    });
    if (ldap.searchPassword) secret('ldap_search_password', ldap.searchPassword);
  }

  if (d.auditLog) {
    json.audit_log_forward_endpoint = d.auditLog.forwardEndpoint ?? '';
    json.skip_audit_log_database = d.auditLog.skipDatabase ?? false;
    json.disabled_audit_log_event_types = (d.auditLog.disabledEventTypes ?? []).join(',');
  }
  if (d.projectCreationRestriction !== undefined) {
    json.project_creation_restriction = d.projectCreationRestriction;
  }
  if (d.robotTokenDuration !== undefined) json.robot_token_duration = d.robotTokenDuration;
  if (d.robotNamePrefix !== undefined) json.robot_name_prefix = d.robotNamePrefix;
  if (d.selfRegistration !== undefined) json.self_registration = d.selfRegistration;

  return { json, secrets, secretEnv };
}

/** Environment variable names, unique, stable for one declaration, `[A-Z0-9_]` only. */
class EnvNames {
  public readonly refs: Record<string, SecretKeyRef> = {};

  public part(name: string): string {
    return (
      name
        .toUpperCase()
        .replace(/[^A-Z0-9]+/g, '_')
        .replace(/^_+|_+$/g, '') || 'X'
    );
  }

  /** Registers `wanted`, or `wanted_2`, `wanted_3`... when two names fold to the same. */
  public add(wanted: string, ref: SecretKeyRef): string {
    let name = wanted;
    for (let n = 2; name in this.refs; n++) name = `${wanted}_${n}`;
    this.refs[name] = { name: ref.name, key: ref.key };
    return name;
  }

  public pair(
    base: string,
    key: SecretKeyRef,
    secret: SecretKeyRef,
  ): { accessKeyEnv: string; accessSecretEnv: string } {
    let stem = base;
    for (let n = 2; `${stem}_ACCESS_KEY` in this.refs; n++) stem = `${base}_${n}`;
    return {
      accessKeyEnv: this.add(`${stem}_ACCESS_KEY`, key),
      accessSecretEnv: this.add(`${stem}_ACCESS_SECRET`, secret),
    };
  }
}

/** Names of each list that occur more than once. */
function unique(
  problems: Problems,
  field: string,
  items: readonly { readonly name: string }[] | undefined,
): void {
  const seen = new Map<string, number>();
  (items ?? []).forEach((item, i) => {
    const first = seen.get(item.name);
    if (first === undefined) seen.set(item.name, i);
    else {
      problems.add(
        `${field}[${i}].name`,
        `${show(item.name)} is already the name of ${field.split('.').pop()}[${first}];` +
          ' names must be unique',
      );
    }
  });
}

function checkRef(problems: Problems, field: string, ref: SecretKeyRef | undefined): void {
  if (!ref) return;
  problems.value(`${field}.name`, ref.name, objectName);
  problems.value(`${field}.key`, ref.key, dataKey);
}

function projectName(value: string): string | undefined {
  return NAME.test(value) && value.length <= 255
    ? undefined
    : "is not a project name Harbor accepts; use lowercase letters, digits and '._-'" +
        ' (1 to 255), starting and ending with a letter or digit';
}

function robotName(value: string): string | undefined {
  return NAME.test(value) && value.length <= 255
    ? undefined
    : "is not a robot name Harbor accepts; use lowercase letters, digits and '._-'," +
        " starting and ending with a letter or digit (no '+' or '$')";
}

function nonEmpty(value: string): string | undefined {
  return typeof value === 'string' && value.trim().length > 0 ? undefined : 'is empty; give a name';
}

function positiveInteger(value: number): string | undefined {
  return Number.isSafeInteger(value) && value >= 1 ? undefined : 'is not a whole number from 1';
}

function pattern(value: string): string | undefined {
  return value.length > 0 && !/\s/.test(value)
    ? undefined
    : 'is not a doublestar pattern; use e.g. "**", "library/**" or "v*"';
}

function hostPort(value: string): string | undefined {
  const match = /^([A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?):(\d{1,5})$/.exec(value);
  return match && Number(match[3]) >= 1 && Number(match[3]) <= 65535
    ? undefined
    : 'is not host:port; use e.g. "syslog.example.test:514"';
}

const QUOTA_UNITS: Record<string, number> = { Mi: 1024 ** 2, Gi: 1024 ** 3, Ti: 1024 ** 4 };

function quota(value: string | number): string | undefined {
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) return 'is not a whole number of bytes';
    if (value === -1 || value >= 1) return undefined;
    return value === 0
      ? 'is no quota: Harbor reads 0 as "the system default"; use a size, or -1 for unlimited'
      : 'is below zero; use a size, or -1 / "unlimited" for no limit';
  }
  if (value === 'unlimited') return undefined;
  const match = /^([1-9]\d{0,8})(Mi|Gi|Ti)$/.exec(value);
  if (!match) return 'is not a size; use e.g. "500Mi", "10Gi", "2Ti", or "unlimited"';
  // Harbor stores bytes as a 64-bit integer, and JSON carries exact integers up to 2^53
  return Number.isSafeInteger(bytesOfQuota(value))
    ? undefined
    : 'is above 8192Ti, more than a quota can hold exactly; use a smaller size or "unlimited"';
}

/** Bytes of a quota that `quota` accepts; -1 is unlimited. */
function bytesOfQuota(value: string | number): number {
  if (typeof value === 'number') return value;
  if (value === 'unlimited') return -1;
  return Number(value.slice(0, -2)) * QUOTA_UNITS[value.slice(-2)];
}

/** Unix seconds of an ISO date (UTC midnight) or date-time with a zone; undefined if neither. */
function unixSeconds(value: string): number | undefined {
  const iso =
    /^\d{4}-\d{2}-\d{2}$/.test(value) ||
    /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(value);
  const millis = iso ? Date.parse(value) : NaN;
  // Date.parse rolls 2026-02-30 over into March: the day must exist in its month
  const [year, month, day] = value.slice(0, 10).split('-').map(Number);
  const exists = new Date(Date.UTC(year, month - 1, day)).getUTCDate() === day && month <= 12;
  return Number.isFinite(millis) && exists ? Math.floor(millis / 1000) : undefined;
}

/** The ranges of the cron fields after the seconds, and the names a field may use. */
const CRON_FIELDS: { name: string; min: number; max: number; names?: string[] }[] = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  {
    name: 'month',
    min: 1,
    max: 12,
    names: ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'],
  },
  { name: 'day of week', min: 0, max: 6, names: ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'] },
];

/**
 * A cron Harbor accepts: 6 fields separated by spaces, seconds first and exactly `0` (its
 * `ValidateCronString`), the others in the ranges of its cron parser.
 */
function harborCron(value: string): string | undefined {
  const fields = value.trim().split(/\s+/);
  if (value !== value.trim() || value === '') {
    return 'is not a cron; use 6 fields, seconds first, like "0 0 2 * * *"';
  }
  if (fields.length === 5) {
    return `has 5 fields; Harbor crons have 6, seconds first: prepend "0 " ("0 ${value}")`;
  }
  if (fields.length !== 6) {
    return `has ${fields.length} fields; Harbor crons have 6, seconds first, like "0 0 2 * * *"`;
  }
  if (fields[0] !== '0') {
    return 'starts with a seconds field other than 0, which Harbor rejects; use "0" first';
  }
  for (const [i, spec] of CRON_FIELDS.entries()) {
    if (!cronField(fields[i + 1], spec)) {
      return `has a ${spec.name} field ${show(fields[i + 1])} out of ${spec.min}-${spec.max}`;
    }
  }
  return undefined;
}

function cronField(text: string, spec: (typeof CRON_FIELDS)[number]): boolean {
  const value = (v: string): number | undefined => {
    const named = spec.names?.indexOf(v.toUpperCase()) ?? -1;
    const n = named >= 0 ? named + spec.min : /^\d{1,2}$/.test(v) ? Number(v) : NaN;
    return n >= spec.min && n <= spec.max ? n : undefined;
  };
  return text.split(',').every((part) => {
    const [range, step, extra] = part.split('/');
    if (extra !== undefined) return false;
    if (step !== undefined && !(/^\d{1,2}$/.test(step) && Number(step) >= 1)) return false;
    if (range === '*' || range === '?') return true;
    const [from, to, more] = range.split('-');
    if (more !== undefined) return false;
    const low = value(from);
    const high = to === undefined ? low : value(to);
    return low !== undefined && high !== undefined && low <= high;
  });
}

/** Whether `value` is one of an enum's values. */
function oneOf(e: object, value: unknown): boolean {
  return Object.values(e).includes(value);
}

function choices(e: object): string {
  const values = Object.values(e).filter((v) => typeof v === 'string');
  return `one of ${values.map((v) => show(v)).join(', ')}`;
}

/**
 * The resource and action pairs Harbor grants robots (`PoliciesMap` of its
 * `src/common/rbac/const.go`).
 */
const PROJECT_ACCESS: Record<string, string[]> = {
  log: ['list'],
  project: ['read', 'delete', 'update'],
  metadata: ['read', 'create', 'delete', 'list', 'update'],
  repository: ['read', 'update', 'delete', 'list', 'pull', 'push'],
  artifact: ['read', 'create', 'list', 'delete'],
  scan: ['create', 'read', 'stop'],
  tag: ['create', 'list', 'delete'],
  accessory: ['list'],
  'artifact-addition': ['read'],
  'artifact-label': ['create', 'delete'],
  scanner: ['create', 'read'],
  'preheat-policy': ['read', 'create', 'delete', 'list', 'update'],
  'immutable-tag': ['create', 'delete', 'list', 'update'],
  'notification-policy': ['read', 'create', 'delete', 'list', 'update'],
  'tag-retention': ['read', 'create', 'delete', 'list', 'update'],
  label: ['read', 'create', 'delete', 'list', 'update'],
  quota: ['read'],
};

const SYSTEM_ACCESS: Record<string, string[]> = {
  'audit-log': ['list'],
  'preheat-instance': ['read', 'create', 'delete', 'list', 'update'],
  project: ['list', 'create'],
  'replication-policy': ['read', 'create', 'delete', 'list', 'update'],
  replication: ['read', 'create', 'list'],
  'replication-adapter': ['list'],
  registry: ['read', 'create', 'delete', 'list', 'update'],
  'scan-all': ['read', 'update', 'stop', 'create'],
  'system-volumes': ['read'],
  'garbage-collection': ['read', 'create', 'list', 'update', 'stop'],
  'purge-audit': ['read', 'create', 'list', 'update', 'stop'],
  'jobservice-monitor': ['list', 'stop'],
  scanner: ['read', 'create', 'delete', 'list', 'update'],
  label: ['read', 'create', 'delete', 'update'],
  'security-hub': ['read', 'list'],
  catalog: ['read'],
  quota: ['read', 'list'],
};

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
import { bytesOfQuota, unixSeconds } from './_formats';
import {
  CveAllowlist,
  HarborProject,
  HarborRobot,
  HarborSettingsDeclaration,
  LdapScope,
  ReplicationCredentialType,
  ReplicationEndpoint,
  ReplicationPolicy,
  ReplicationTrigger,
  RetentionPolicy,
  RetentionRule,
  RetentionTemplate,
  RobotAccess,
  ScanAllSchedule,
  ScannerAuth,
  ScannerRegistration,
  Severity,
  SignatureEnforcement,
  UserSettingsDelivery,
} from './declaration';
import { SecretKeyRef } from '../common';

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

const DEFAULT_OIDC_SCOPE = ['openid', 'profile', 'email', 'offline_access'];

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

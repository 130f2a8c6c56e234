import { z } from 'zod';
import {
  HarborAuthentication,
  HarborRobot,
  HarborSettingsDeclaration,
  LdapScope,
  ProjectCreationRestriction,
  ReplicationCredentialType,
  ReplicationEndpointType,
  ReplicationResource,
  ReplicationTrigger,
  RetentionTemplate,
  RobotLevel,
  RobotPermission,
  ScanAllSchedule,
  ScannerAuth,
  Severity,
  SignatureEnforcement,
  UserSettingsDelivery,
} from '../harbor/settings/declaration';

// Forms only: names, crons, severities, references between objects and Harbor's other rules
// are checked once, by the construct, under the same field paths.
const ref = z.strictObject(
  { name: z.string(), key: z.string() },
  { error: 'must be a Secret reference: a mapping with name and key' },
);
const allowlist = z.strictObject({ items: z.array(z.string()), expiresAt: z.string().optional() });
const access = z.strictObject({ resource: z.string(), action: z.string() });

/** A robot permission: `pull` or `push` on the robot's project, or spelled out. */
const permission = z.union([
  z.enum(['pull', 'push']),
  z.strictObject({
    preset: z.enum(['pull', 'push']).optional(),
    project: z.string().optional(),
    access: z.array(access).optional(),
  }),
  z.strictObject({ system: z.array(access) }),
]);

const project = z.strictObject({
  name: z.string(),
  public: z.boolean().optional(),
  scanOnPush: z.boolean().optional(),
  sbomOnPush: z.boolean().optional(),
  signatures: z.array(z.string()).optional(),
  preventVulnerable: z.strictObject({ severity: z.string() }).optional(),
  storageLimit: z.union([z.string(), z.number()]).optional(),
  cveAllowlist: allowlist.optional(),
  useSystemCveAllowlist: z.boolean().optional(),
  scanner: z.string().optional(),
  retention: z
    .strictObject({
      rules: z.array(
        z.strictObject({
          template: z.string(),
          param: z.number().optional(),
          tags: z.string().optional(),
          excludeTags: z.boolean().optional(),
          untagged: z.boolean().optional(),
          repositories: z.string().optional(),
          excludeRepositories: z.boolean().optional(),
          disabled: z.boolean().optional(),
        }),
      ),
      schedule: z.string().optional(),
    })
    .optional(),
  helmCharts: z.boolean().optional(),
});

const robot = z.strictObject({
  name: z.string(),
  // a project robot names its project; a system robot says so
  level: z.union([z.literal('system'), z.strictObject({ project: z.string() })]),
  permissions: z.array(permission),
  description: z.string().optional(),
  duration: z.number().optional(),
  disabled: z.boolean().optional(),
  pullSecret: z
    .strictObject({
      name: z.string().optional(),
      namespaces: z.array(z.string()).optional(),
      serviceAccounts: z.array(z.string()).optional(),
    })
    .optional(),
});

const registry = z.strictObject({
  name: z.string(),
  type: z.enum(Object.values(ReplicationEndpointType) as [string, ...string[]]),
  url: z.string(),
  insecure: z.boolean().optional(),
  description: z.string().optional(),
  credential: z
    .strictObject({
      type: z.enum(['basic', 'oauth', 'secret']).optional(),
      accessKey: ref,
      accessSecret: ref,
    })
    .optional(),
});

const policy = z.strictObject({
  name: z.string(),
  description: z.string().optional(),
  pullFrom: z.string().optional(),
  pushTo: z.string().optional(),
  filters: z
    .strictObject({
      name: z.string().optional(),
      tag: z.string().optional(),
      excludeTags: z.boolean().optional(),
      resource: z.enum(['image', 'artifact']).optional(),
    })
    .optional(),
  destNamespace: z.string().optional(),
  destNamespaceReplaceCount: z.number().optional(),
  trigger: z
    .union([
      z.enum(['manual', 'eventBased']),
      z.strictObject({ cron: z.string() }, { error: 'must be manual, eventBased or { cron }' }),
    ])
    .optional(),
  override: z.boolean().optional(),
  enabled: z.boolean().optional(),
  replicateDeletion: z.boolean().optional(),
  speed: z.number().optional(),
  copyByChunk: z.boolean().optional(),
});

const scanner = z.strictObject({
  name: z.string(),
  url: z.string(),
  description: z.string().optional(),
  auth: z
    .union([
      z.strictObject({ type: z.literal('none') }),
      z.strictObject({ type: z.enum(['basic', 'bearer', 'apiKey']), credential: ref }),
    ])
    .optional(),
  skipCertVerify: z.boolean().optional(),
  useInternalAddress: z.boolean().optional(),
  default: z.boolean().optional(),
});

const ldapScope = z.enum(['base', 'oneLevel', 'subtree']);

const authentication = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('database') }),
  z.strictObject({
    type: z.literal('oidc'),
    name: z.string(),
    endpoint: z.string(),
    clientId: z.string(),
    clientSecret: ref,
    scope: z.array(z.string()).optional(),
    userClaim: z.string().optional(),
    groupsClaim: z.string().optional(),
    adminGroup: z.string().optional(),
    groupFilter: z.string().optional(),
    verifyCert: z.boolean().optional(),
    autoOnboard: z.boolean().optional(),
    logout: z.boolean().optional(),
    extraRedirectParams: z.record(z.string(), z.string()).optional(),
  }),
  z.strictObject({
    type: z.literal('ldap'),
    url: z.string(),
    searchDn: z.string().optional(),
    searchPassword: ref.optional(),
    baseDn: z.string(),
    filter: z.string().optional(),
    uid: z.string().optional(),
    scope: ldapScope.optional(),
    timeout: z.number().optional(),
    verifyCert: z.boolean().optional(),
    groupBaseDn: z.string().optional(),
    groupSearchFilter: z.string().optional(),
    groupAttributeName: z.string().optional(),
    groupSearchScope: ldapScope.optional(),
    groupAdminDn: z.string().optional(),
    groupMembershipAttribute: z.string().optional(),
  }),
]);

/** The `settings` section of the configuration file: Harbor's settings as code. */
export const settingsSchema = z.strictObject({
  projects: z.array(project).optional(),
  robots: z.array(robot).optional(),
  registries: z.array(registry).optional(),
  replicationPolicies: z.array(policy).optional(),
  scanners: z.array(scanner).optional(),
  scanAllSchedule: z
    .union([
      z.enum(['hourly', 'daily', 'weekly', 'none']),
      z.strictObject(
        { cron: z.string() },
        { error: 'must be hourly, daily, weekly, none or { cron }' },
      ),
    ])
    .optional(),
  systemCveAllowlist: allowlist.optional(),
  auditLog: z
    .strictObject({
      forwardEndpoint: z.string().optional(),
      skipDatabase: z.boolean().optional(),
      disabledEventTypes: z.array(z.string()).optional(),
    })
    .optional(),
  authentication: authentication.optional(),
  projectCreationRestriction: z.enum(['everyone', 'adminonly']).optional(),
  robotTokenDuration: z.number().optional(),
  robotNamePrefix: z.string().optional(),
  selfRegistration: z.boolean().optional(),
  userSettingsVia: z.enum(['api', 'environment']).optional(),
  prune: z.boolean().optional(),
});

export type SettingsConfig = z.infer<typeof settingsSchema>;

const LDAP_SCOPES: Record<z.infer<typeof ldapScope>, LdapScope> = {
  base: LdapScope.BASE,
  oneLevel: LdapScope.ONE_LEVEL,
  subtree: LdapScope.SUBTREE,
};

function robotOf(r: z.infer<typeof robot>): HarborRobot {
  const level = r.level === 'system' ? RobotLevel.system() : RobotLevel.project(r.level.project);
  const permissions = r.permissions.map((p) => {
    if (typeof p === 'string')
      return p === 'pull' ? RobotPermission.pull() : RobotPermission.push();
    if ('system' in p) return RobotPermission.system(p.system);
    if (p.preset === 'pull') return RobotPermission.pull(p.project);
    if (p.preset === 'push') return RobotPermission.push(p.project);
    return RobotPermission.project(p.access ?? [], p.project);
  });
  return { ...r, level, permissions };
}

function scannerAuthOf(auth: NonNullable<SettingsConfig['scanners']>[number]['auth']) {
  if (!auth || auth.type === 'none') return ScannerAuth.none();
  const credential = auth.credential;
  if (auth.type === 'basic') return ScannerAuth.basic(credential);
  return auth.type === 'bearer' ? ScannerAuth.bearer(credential) : ScannerAuth.apiKey(credential);
}

function scheduleOf(schedule: SettingsConfig['scanAllSchedule']): ScanAllSchedule | undefined {
  if (schedule === undefined) return undefined;
  if (typeof schedule === 'object') return ScanAllSchedule.custom(schedule.cron);
  return {
    hourly: ScanAllSchedule.hourly,
    daily: ScanAllSchedule.daily,
    weekly: ScanAllSchedule.weekly,
    none: ScanAllSchedule.none,
  }[schedule]();
}

function authenticationOf(
  auth: SettingsConfig['authentication'],
): HarborAuthentication | undefined {
  if (!auth) return undefined;
  if (auth.type === 'database') return HarborAuthentication.database();
  if (auth.type === 'oidc') {
    const { type: _type, ...options } = auth;
    return HarborAuthentication.oidc(options);
  }
  const { type: _type, scope, groupSearchScope, ...options } = auth;
  return HarborAuthentication.ldap({
    ...options,
    scope: scope && LDAP_SCOPES[scope],
    groupSearchScope: groupSearchScope && LDAP_SCOPES[groupSearchScope],
  });
}

/** The construct's declaration for the `settings` section of a configuration file. */
export function settingsOf(settings: SettingsConfig): HarborSettingsDeclaration {
  return {
    ...settings,
    projects: settings.projects?.map((p) => ({
      ...p,
      signatures: p.signatures as SignatureEnforcement[] | undefined,
      preventVulnerable: p.preventVulnerable && {
        severity: p.preventVulnerable.severity as Severity,
      },
      retention: p.retention && {
        ...p.retention,
        rules: p.retention.rules.map((rule) => ({
          ...rule,
          template: rule.template as RetentionTemplate,
        })),
      },
    })),
    robots: settings.robots?.map(robotOf),
    registries: settings.registries?.map((r) => ({
      ...r,
      type: r.type as ReplicationEndpointType,
      credential: r.credential && {
        ...r.credential,
        type: r.credential.type as ReplicationCredentialType | undefined,
      },
    })),
    replicationPolicies: settings.replicationPolicies?.map((p) => ({
      ...p,
      filters: p.filters && {
        ...p.filters,
        resource: p.filters.resource as ReplicationResource | undefined,
      },
      trigger:
        p.trigger === undefined
          ? undefined
          : typeof p.trigger === 'object'
            ? ReplicationTrigger.scheduled(p.trigger.cron)
            : p.trigger === 'manual'
              ? ReplicationTrigger.manual()
              : ReplicationTrigger.eventBased(),
    })),
    scanners: settings.scanners?.map((s) => ({ ...s, auth: scannerAuthOf(s.auth) })),
    scanAllSchedule: scheduleOf(settings.scanAllSchedule),
    authentication: authenticationOf(settings.authentication),
    projectCreationRestriction: settings.projectCreationRestriction as
      ProjectCreationRestriction | undefined,
    userSettingsVia: settings.userSettingsVia as UserSettingsDelivery | undefined,
  };
}

import { harborCron, quota, unixSeconds } from './_formats';
import {
  AuditLogSettings,
  BUILT_IN_SCANNER,
  CveAllowlist,
  HarborAuthentication,
  HarborProject,
  HarborRobot,
  HarborSettingsDeclaration,
  LdapScope,
  ProjectCreationRestriction,
  ReplicationCredentialType,
  ReplicationEndpoint,
  ReplicationPolicy,
  ReplicationResource,
  RetentionPolicy,
  RetentionTemplate,
  RobotLevel,
  RobotPermission,
  ScanAllSchedule,
  ScannerRegistration,
  Severity,
  SignatureEnforcement,
  UserSettingsDelivery,
} from './declaration';
import { dataKey, httpUrl, label, ldapUrl, objectName } from '../../private/checks';
import { Problems, show } from '../../private/validation';
import { SecretKeyRef } from '../common';
import { REPLICATION_ADAPTERS } from '../core';

const NAME = /^[a-z0-9]+(?:[._-][a-z0-9]+)*$/;
const CVE = /^CVE-\d{4}-\d{4,}$/;
const EVENT_TYPE = /^[a-z]+(_[a-z]+)+$/;
const MAX_RETENTION_RULES = 15;

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

  // Harbor names a project robot after its project: robot$a+ci and robot$b+ci are two robots
  unique(problems, `${field}.robots`, d.robots, (r) =>
    r.level?.level === 'project' ? `project ${r.level.project}` : 'system',
  );
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
    problems.add(`${field}.level`, 'is not set; give the system level or one project');
  } else if (r.level.level === 'project') {
    problems.value(`${field}.level.project`, project, (v) =>
      projects.has(v) ? undefined : 'is not a project declared in projects; declare it there',
    );
  }

  problems.check(
    (r.permissions ?? []).length > 0,
    `${field}.permissions`,
    'is empty; give at least one, such as pull or push',
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

/** A replication endpoint: a known adapter type, an http(s) URL, and its credential refs. */
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

    // Harbor refuses a group filter without both attributes, and core crash-loops on it
    // when the settings go through CONFIG_OVERWRITE_JSON
    if (ldap.groupSearchFilter) {
      problems.check(
        (ldap.groupAttributeName ?? '').trim().length > 0,
        `${field}.groupAttributeName`,
        `${show(ldap.groupAttributeName)} with groupSearchFilter ${show(ldap.groupSearchFilter)};` +
          ' Harbor needs the attribute that holds a group\'s name: set it, e.g. "cn"',
      );
      problems.check(
        (ldap.groupMembershipAttribute ?? 'memberof').trim().length > 0,
        `${field}.groupMembershipAttribute`,
        `is empty with groupSearchFilter ${show(ldap.groupSearchFilter)}; Harbor needs the user` +
          ' attribute that lists the groups: leave it out for "memberof", or set it',
      );
    }
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

/** Names of each list that occur more than once, within one scope where Harbor has scopes. */
function unique<T extends { readonly name: string }>(
  problems: Problems,
  field: string,
  items: readonly T[] | undefined,
  scope: (item: T) => string = () => '',
): void {
  const seen = new Map<string, number>();
  (items ?? []).forEach((item, i) => {
    const key = JSON.stringify([scope(item), item.name]);
    const first = seen.get(key);
    if (first === undefined) seen.set(key, i);
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

import {
  HarborAuthentication,
  HarborSettingsDeclaration,
  ReplicationEndpointType,
  ReplicationTrigger,
  RetentionTemplate,
  RobotLevel,
  RobotPermission,
  ScanAllSchedule,
  Severity,
  SignatureEnforcement,
} from '../../../lib/harbor/settings/declaration';
import { checkSettings } from '../../../lib/harbor/settings/check';
import { Problems } from '../../../lib/private/validation';

/** What the non-production profile declares: a signed-only project and a CI robot. */
const ci: HarborSettingsDeclaration = {
  projects: [{ name: 'apps', signatures: [SignatureEnforcement.COSIGN] }],
  robots: [
    { name: 'ci', level: RobotLevel.project('apps'), permissions: [RobotPermission.push()] },
  ],
};

function problemsOf(d: HarborSettingsDeclaration): readonly string[] {
  const problems = new Problems();
  checkSettings(problems, 'settings', d);
  return problems.all;
}

/** Expects exactly one problem, at `field`, containing `fragment`. */
function expectProblem(d: HarborSettingsDeclaration, field: string, fragment: string): void {
  const all = problemsOf(d);
  expect(all).toHaveLength(1);
  expect(all[0].startsWith(`${field}: `)).toBe(true);
  expect(all[0]).toContain(fragment);
}

const withProject = (extra: object) => ({ projects: [{ name: 'apps', ...extra }] });

describe('checkSettings', () => {
  test('accepts the CI declaration and a full one', () => {
    const full: HarborSettingsDeclaration = {
      projects: [
        {
          name: 'team.a_b-c',
          public: true,
          signatures: [SignatureEnforcement.COSIGN, SignatureEnforcement.NOTATION],
          preventVulnerable: { severity: Severity.CRITICAL },
          storageLimit: '2Ti',
          cveAllowlist: { items: ['CVE-2024-3094'], expiresAt: '2026-12-31' },
          scanner: 'extra',
          retention: {
            rules: [{ template: RetentionTemplate.LATEST_PUSHED, param: 10, tags: 'v*' }],
            schedule: '0 30 2 * * SUN',
          },
        },
        { name: 'charts', helmCharts: true, signatures: [SignatureEnforcement.NOTATION] },
      ],
      robots: [
        {
          name: 'fleet',
          level: RobotLevel.system(),
          permissions: [
            RobotPermission.pull('*'),
            RobotPermission.system([{ resource: 'project', action: 'create' }]),
          ],
          pullSecret: { namespaces: ['apps', 'default'], serviceAccounts: ['default'] },
        },
      ],
      registries: [
        {
          name: 'dr',
          type: ReplicationEndpointType.HARBOR,
          url: 'https://dr.example.test',
          credential: {
            accessKey: { name: 'dr-robot', key: 'username' },
            accessSecret: { name: 'dr-robot', key: 'password' },
          },
        },
      ],
      replicationPolicies: [
        { name: 'to-dr', pushTo: 'dr', trigger: ReplicationTrigger.eventBased() },
        { name: 'from-dr', pullFrom: 'dr', trigger: ReplicationTrigger.scheduled('0 0 */6 * * *') },
      ],
      scanners: [{ name: 'extra', url: 'http://scanner.tools:8080', default: true }],
      scanAllSchedule: ScanAllSchedule.custom('0 0 3 * * 1-5'),
      auditLog: { forwardEndpoint: 'syslog.example.test:514', skipDatabase: true },
      authentication: HarborAuthentication.database(),
      robotTokenDuration: 90,
    };

    expect(problemsOf(ci)).toEqual([]);
    expect(problemsOf(full)).toEqual([]);
  });

  test('names the field as the user writes it and reports every problem together', () => {
    const all = problemsOf({
      projects: [{ name: 'Apps', preventVulnerable: { severity: 'severe' as Severity } }],
    });

    expect(all).toHaveLength(2);
    expect(all[0]).toMatch(/^settings\.projects\[0\]\.name: "Apps" is not a project name/);
    expect(all[1]).toMatch(/^settings\.projects\[0\]\.preventVulnerable\.severity: "severe"/);
  });

  test.each(['0 2 * * *', '30 2 * * 1'])('rejects the 5-field cron %p with a hint', (cron) => {
    expectProblem(
      withProject({ retention: { rules: [{ template: 'always' }], schedule: cron } }),
      'settings.projects[0].retention.schedule',
      `prepend "0 " ("0 ${cron}")`,
    );
  });

  test.each([
    ['30 0 2 * * *', 'seconds field other than 0'],
    ['@daily', 'has 1 fields'],
    ['0 0 2 * * * 2026', 'has 7 fields'],
    ['0 60 2 * * *', 'minute field "60" out of 0-59'],
    ['0 0 24 * * *', 'hour field "24"'],
    ['0 0 2 0 * *', 'day of month field "0"'],
    ['0 0 2 * 13 *', 'month field "13"'],
    ['0 0 2 * * 7', 'day of week field "7"'],
    ['0 0 2 * * MON-', 'day of week field'],
    [' 0 0 2 * * *', 'is not a cron'],
  ])('rejects the cron %p that Harbor refuses', (cron, fragment) => {
    expectProblem(
      { scanAllSchedule: ScanAllSchedule.custom(cron) },
      'settings.scanAllSchedule.cron',
      fragment,
    );
  });

  test('accepts crons with lists, ranges, steps and names', () => {
    for (const cron of ['0 */15 * * * *', '0 0 1,13 * JAN-MAR ?', '0 5 4 1-7/2 * MON']) {
      expect([cron, problemsOf({ scanAllSchedule: ScanAllSchedule.custom(cron) })]).toEqual([
        cron,
        [],
      ]);
    }
  });

  test('rejects a severity that does not exist', () => {
    expectProblem(
      withProject({ preventVulnerable: { severity: 'severe' } }),
      'settings.projects[0].preventVulnerable.severity',
      'is not a severity; use one of "none", "low", "medium", "high", "critical"',
    );
  });

  test('rejects a robot permission on a project that is not declared', () => {
    expectProblem(
      {
        ...ci,
        robots: [
          { name: 'x', level: RobotLevel.system(), permissions: [RobotPermission.push('web')] },
        ],
      },
      'settings.robots[0].permissions[0]',
      '"web" is not a project declared in projects',
    );
    expectProblem(
      {
        ...ci,
        robots: [
          { name: 'x', level: RobotLevel.project('web'), permissions: [RobotPermission.pull()] },
        ],
      },
      'settings.robots[0].level.project',
      'is not a project declared in projects',
    );
  });

  test("allows a system robot's permission on every project with '*'", () => {
    const d = {
      robots: [{ name: 'x', level: RobotLevel.system(), permissions: [RobotPermission.pull('*')] }],
    };

    expect(problemsOf(d)).toEqual([]);
  });

  test('keeps a project robot inside its project and to project permissions', () => {
    const d = (permission: RobotPermission) => ({
      projects: [{ name: 'apps' }, { name: 'web' }],
      robots: [{ name: 'x', level: RobotLevel.project('apps'), permissions: [permission] }],
    });

    expectProblem(d(RobotPermission.pull('web')), 'settings.robots[0].permissions[0]', 'outside');
    expectProblem(
      d(RobotPermission.system([{ resource: 'project', action: 'create' }])),
      'settings.robots[0].permissions[0]',
      'is a system permission',
    );
  });

  test('rejects a robot without a level', () => {
    const robot = { name: 'x', permissions: [RobotPermission.pull('*')] };

    expectProblem({ robots: [robot as never] }, 'settings.robots[0].level', 'is not set');
  });

  test('rejects an access pair Harbor does not grant robots', () => {
    expectProblem(
      {
        ...ci,
        robots: [
          {
            name: 'x',
            level: RobotLevel.project('apps'),
            permissions: [RobotPermission.project([{ resource: 'repository', action: 'fly' }])],
          },
        ],
      },
      'settings.robots[0].permissions[0].access[0]',
      'is not a project permission Harbor grants robots',
    );
  });

  test.each([
    [-5, 'is below zero'],
    [0, 'reads 0 as "the system default"'],
    [1.5, 'is not a whole number of bytes'],
    ['10G', 'is not a size'],
    ['-5Gi', 'is not a size'],
  ])('rejects the quota %p', (storageLimit, fragment) => {
    expectProblem(withProject({ storageLimit }), 'settings.projects[0].storageLimit', fragment);
  });

  test.each([
    ['projects', { projects: [{ name: 'apps' }, { name: 'apps' }] }],
    [
      'robots',
      {
        projects: [{ name: 'apps' }],
        robots: [0, 1].map((i) => ({
          name: 'ci',
          level: RobotLevel.project('apps'),
          permissions: [RobotPermission.pull()],
          pullSecret: { name: `ci-${i}` },
        })),
      },
    ],
    [
      'registries',
      {
        registries: [0, 1].map(() => ({
          name: 'dr',
          type: ReplicationEndpointType.HARBOR,
          url: 'https://dr.example.test',
        })),
      },
    ],
    [
      'replicationPolicies',
      {
        registries: [
          { name: 'dr', type: ReplicationEndpointType.HARBOR, url: 'https://dr.example.test' },
        ],
        replicationPolicies: [0, 1].map(() => ({ name: 'p', pushTo: 'dr' })),
      },
    ],
    ['scanners', { scanners: [0, 1].map(() => ({ name: 's', url: 'http://s.tools:8080' })) }],
  ])('rejects duplicate names of %s', (list, d) => {
    expectProblem(
      d as HarborSettingsDeclaration,
      `settings.${list}[1].name`,
      `is already the name of ${list}[0]; names must be unique`,
    );
  });

  test('allows robots of one name in different projects, and a system robot of that name', () => {
    const robot = (level: RobotLevel) => ({
      name: 'ci',
      level,
      permissions: [RobotPermission.pull()],
    });
    const d: HarborSettingsDeclaration = {
      projects: [{ name: 'a' }, { name: 'b' }],
      robots: [
        robot(RobotLevel.project('a')),
        robot(RobotLevel.project('b')),
        { ...robot(RobotLevel.system()), permissions: [RobotPermission.pull('*')] },
      ],
    };

    expect(problemsOf(d)).toEqual([]);
    expectProblem(
      { ...d, robots: [robot(RobotLevel.project('a')), robot(RobotLevel.project('a'))] },
      'settings.robots[1].name',
      '"ci" is already the name of robots[0]',
    );
  });

  test('rejects a robot without permissions in words the config file uses too', () => {
    expectProblem(
      { robots: [{ name: 'ci', level: RobotLevel.system(), permissions: [] }] },
      'settings.robots[0].permissions',
      'is empty; give at least one, such as pull or push',
    );
    expectProblem(
      { robots: [{ name: 'ci', permissions: [RobotPermission.pull('*')] } as any] },
      'settings.robots[0].level',
      'is not set; give the system level or one project',
    );
  });

  test('rejects an LDAP group filter without the attributes Harbor needs with it', () => {
    const ldap = (options: object) => ({
      authentication: HarborAuthentication.ldap({
        url: 'ldaps://ldap.example.test',
        baseDn: 'dc=example,dc=test',
        groupSearchFilter: '(objectClass=groupOfNames)',
        ...options,
      }),
    });

    expectProblem(
      ldap({}),
      'settings.authentication.groupAttributeName',
      `(not set) with groupSearchFilter "(objectClass=groupOfNames)"; Harbor needs the` +
        ` attribute that holds a group's name: set it, e.g. "cn"`,
    );
    expectProblem(
      ldap({ groupAttributeName: 'cn', groupMembershipAttribute: '' }),
      'settings.authentication.groupMembershipAttribute',
      'is empty with groupSearchFilter',
    );
    expect(problemsOf(ldap({ groupAttributeName: 'cn' }))).toEqual([]);
    expect(problemsOf(ldap({ groupSearchFilter: undefined }))).toEqual([]);
  });

  test.each(['Apps', '-apps', 'apps-', 'a..b', 'a b', 'apps/web', '', 'a'.repeat(256)])(
    'rejects the project name #%#',
    (name) => {
      expectProblem(
        { projects: [{ name }] },
        'settings.projects[0].name',
        'is not a project name Harbor accepts',
      );
    },
  );

  test('accepts the project names Harbor accepts', () => {
    expect(
      problemsOf({ projects: ['a', '1', 'team.a_b-c', 'a'.repeat(255)].map((name) => ({ name })) }),
    ).toEqual([]);
  });

  test.each(['ci+bot', 'robot$ci', 'CI', '_ci'])('rejects the robot name %p', (name) => {
    expectProblem(
      {
        robots: [
          {
            name,
            level: RobotLevel.system(),
            permissions: [RobotPermission.pull('*')],
            pullSecret: { name: 'x' },
          },
        ],
      },
      'settings.robots[0].name',
      'is not a robot name Harbor accepts',
    );
  });

  test('field failure #21: rejects Notary signature enforcement', () => {
    expectProblem(
      withProject({ signatures: ['notary'] }),
      'settings.projects[0].signatures[0]',
      'Notary is not supported',
    );
    expectProblem(
      withProject({ signatures: ['sigstore'] }),
      'settings.projects[0].signatures[0]',
      'is not one of "cosign", "notation"',
    );
  });

  test('field failure #21: rejects cosign enforcement on a project that holds Helm charts', () => {
    expectProblem(
      withProject({ helmCharts: true, signatures: [SignatureEnforcement.COSIGN] }),
      'settings.projects[0].signatures',
      "refuses the tag step of 'helm push' (412",
    );
    expect(problemsOf(withProject({ helmCharts: true }))).toEqual([]);
  });

  test('rejects a replication policy naming an undeclared registry', () => {
    expectProblem(
      { replicationPolicies: [{ name: 'p', pushTo: 'dr' }] },
      'settings.replicationPolicies[0].pushTo',
      'is not a registry declared in registries',
    );
  });

  test.each([-2, 2 ** 31, 1.5])(
    'rejects the replication speed %p, which Harbor cannot keep',
    (speed) => {
      expectProblem(
        {
          registries: [
            { name: 'dr', type: ReplicationEndpointType.HARBOR, url: 'https://dr.example.test' },
          ],
          replicationPolicies: [{ name: 'p', pushTo: 'dr', speed }],
        },
        'settings.replicationPolicies[0].speed',
        'is not KB/s Harbor keeps',
      );
    },
  );

  test('rejects a replication policy with neither or both of pullFrom and pushTo', () => {
    const registries = [
      { name: 'dr', type: ReplicationEndpointType.HARBOR, url: 'https://dr.example.test' },
    ];

    expectProblem(
      { registries, replicationPolicies: [{ name: 'p' }] },
      'settings.replicationPolicies[0]',
      'sets neither pullFrom and pushTo',
    );
    expectProblem(
      { registries, replicationPolicies: [{ name: 'p', pullFrom: 'dr', pushTo: 'dr' }] },
      'settings.replicationPolicies[0]',
      'sets both pullFrom and pushTo',
    );
    expectProblem(
      {
        registries,
        replicationPolicies: [
          { name: 'p', pullFrom: 'dr', trigger: ReplicationTrigger.eventBased() },
        ],
      },
      'settings.replicationPolicies[0].trigger',
      'is event based on a pull policy',
    );
  });

  test('rejects a scheduled trigger without a cron', () => {
    const registries = [
      { name: 'dr', type: ReplicationEndpointType.HARBOR, url: 'https://dr.example.test' },
    ];

    expectProblem(
      {
        registries,
        replicationPolicies: [
          {
            name: 'p',
            pushTo: 'dr',
            trigger: ReplicationTrigger.scheduled(undefined as unknown as string),
          },
        ],
      },
      'settings.replicationPolicies[0].trigger',
      'is scheduled without a cron',
    );
    expectProblem(
      { scanAllSchedule: ScanAllSchedule.custom('') },
      'settings.scanAllSchedule',
      'is custom without a cron',
    );
  });

  test("rejects a project scanner that is neither 'Trivy' nor declared", () => {
    expectProblem(
      withProject({ scanner: 'clair' }),
      'settings.projects[0].scanner',
      "is neither 'Trivy' nor a scanner declared in scanners",
    );
    expect(problemsOf(withProject({ scanner: 'Trivy' }))).toEqual([]);
    expectProblem(
      { scanners: [{ name: 'Trivy', url: 'http://t:8080' }] },
      'settings.scanners[0].name',
      'is the scanner Harbor registers itself',
    );
  });

  test('rejects auditLog.skipDatabase without a forwardEndpoint', () => {
    expectProblem(
      { auditLog: { skipDatabase: true } },
      'settings.auditLog.skipDatabase',
      'set forwardEndpoint too',
    );
  });

  test.each(['syslog.example.test', 'tcp://syslog.example.test:514', 'syslog:99999'])(
    'rejects the forwardEndpoint %p',
    (forwardEndpoint) => {
      expectProblem(
        { auditLog: { forwardEndpoint } },
        'settings.auditLog.forwardEndpoint',
        'is not host:port',
      );
    },
  );

  test('rejects urls that are not http(s)', () => {
    expectProblem(
      {
        registries: [
          { name: 'dr', type: ReplicationEndpointType.HARBOR, url: 'ftp://dr.example.test' },
        ],
      },
      'settings.registries[0].url',
      'is not an http(s) URL',
    );
    expectProblem(
      { scanners: [{ name: 's', url: 'scanner.tools:8080' }] },
      'settings.scanners[0].url',
      'is not an http(s) URL',
    );
    expectProblem(
      {
        authentication: HarborAuthentication.oidc({
          name: 'Vault',
          endpoint: 'vault.example.test',
          clientId: 'harbor',
          clientSecret: { name: 'oidc', key: 'secret' },
        }),
      },
      'settings.authentication.endpoint',
      'is not an http(s) URL',
    );
  });

  test('rejects a registry type Harbor is not allowed to replicate with', () => {
    expectProblem(
      {
        registries: [
          { name: 'q', type: 'quay' as ReplicationEndpointType, url: 'https://quay.example.test' },
        ],
      },
      'settings.registries[0].type',
      'is not a replication type',
    );
  });

  test.each([0, -2, 1.5])('rejects the robot duration %p', (duration) => {
    expectProblem(
      { ...ci, robots: [{ ...ci.robots![0], duration }] },
      'settings.robots[0].duration',
      'use -1 (never expires) or a number of days from 1',
    );
  });

  test.each(['CVE-24-1', 'cve-2024-3094', 'GHSA-xxxx'])('rejects the CVE id %p', (id) => {
    expectProblem(
      { systemCveAllowlist: { items: [id] } },
      'settings.systemCveAllowlist.items[0]',
      'is not a CVE id',
    );
  });

  test('rejects an allowlist expiry that is not an ISO date', () => {
    expectProblem(
      withProject({ cveAllowlist: { items: [], expiresAt: '31.12.2026' } }),
      'settings.projects[0].cveAllowlist.expiresAt',
      'is not an ISO date',
    );
  });

  test.each(['2026-02-30', '2026-13-01', '2026-04-31T10:00:00+02:00'])(
    'rejects the expiry %p, a day its month does not have',
    (expiresAt) => {
      expectProblem(
        withProject({ cveAllowlist: { items: [], expiresAt } }),
        'settings.projects[0].cveAllowlist.expiresAt',
        'is not an ISO date',
      );
    },
  );

  test('rejects both a project allowlist and useSystemCveAllowlist', () => {
    expectProblem(
      withProject({ cveAllowlist: { items: [] }, useSystemCveAllowlist: true }),
      'settings.projects[0].useSystemCveAllowlist',
      'contradicts cveAllowlist',
    );
  });

  test('rejects a pull-secret namespace that is not a DNS label', () => {
    expectProblem(
      { ...ci, robots: [{ ...ci.robots![0], pullSecret: { namespaces: ['Apps.Prod'] } }] },
      'settings.robots[0].pullSecret.namespaces[0]',
      'is not a DNS label',
    );
  });

  test('rejects Secret refs with a bad name or key', () => {
    const all = problemsOf({
      registries: [
        {
          name: 'dr',
          type: ReplicationEndpointType.HARBOR,
          url: 'https://dr.example.test',
          credential: {
            accessKey: { name: 'DR_Robot', key: 'user' },
            accessSecret: { name: 'dr-robot', key: 'pass word' },
          },
        },
      ],
    });

    expect(all).toEqual([
      expect.stringMatching(
        /^settings\.registries\[0\]\.credential\.accessKey\.name: .*not a Kubernetes object name/,
      ),
      expect.stringMatching(
        /^settings\.registries\[0\]\.credential\.accessSecret\.key: .*not a Secret key/,
      ),
    ]);
  });

  test('rejects more than one default scanner', () => {
    expectProblem(
      {
        scanners: ['a', 'b'].map((name) => ({
          name,
          url: `http://${name}.tools:8080`,
          default: true,
        })),
      },
      'settings.scanners',
      'mark at most one scanner as default',
    );
  });

  test('rejects an OIDC scope without openid', () => {
    expectProblem(
      {
        authentication: HarborAuthentication.oidc({
          name: 'Vault',
          endpoint: 'https://vault.example.test',
          clientId: 'harbor',
          clientSecret: { name: 'oidc', key: 'secret' },
          scope: ['profile'],
        }),
      },
      'settings.authentication.scope',
      "lacks 'openid'",
    );
  });
});

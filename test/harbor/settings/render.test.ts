import { REPLICATION_ADAPTERS } from '../../../lib/harbor/core';
import {
  HarborAuthentication,
  HarborSettingsDeclaration,
  LdapScope,
  ProjectCreationRestriction,
  ReplicationEndpointType,
  ReplicationTrigger,
  RetentionTemplate,
  RobotLevel,
  RobotPermission,
  ScanAllSchedule,
  ScannerAuth,
  Severity,
  SignatureEnforcement,
  UserSettingsDelivery,
} from '../../../lib/harbor/settings/declaration';
import { RenderContext, renderSettings } from '../../../lib/harbor/settings/render';

const context: RenderContext = {
  owner: 'cdk8s-harbor:harbor/harbor',
  registry: 'registry.example.test',
  namespace: 'harbor',
  instance: 'harbor',
};

/** What the non-production profile declares: a signed-only project and a CI robot. */
const ci: HarborSettingsDeclaration = {
  projects: [{ name: 'apps', signatures: [SignatureEnforcement.COSIGN] }],
  robots: [
    { name: 'ci', level: RobotLevel.project('apps'), permissions: [RobotPermission.push()] },
  ],
};

const withProject = (extra: object) => ({ projects: [{ name: 'apps', ...extra }] });

describe('renderSettings', () => {
  test('renders the CI declaration: a scanned, cosign-enforced project and a pushing robot', () => {
    const { document, env, overwrite } = renderSettings(ci, context);

    expect(document.projects).toEqual([
      {
        name: 'apps',
        metadata: {
          public: 'false',
          auto_scan: 'true',
          auto_sbom_generation: 'false',
          enable_content_trust: 'false',
          enable_content_trust_cosign: 'true',
          prevent_vul: 'false',
          severity: 'low',
          reuse_sys_cve_allowlist: 'true',
        },
        storageLimit: -1,
        cveAllowlist: null,
        scanner: null,
        retention: null,
      },
    ]);
    expect(document.robots).toEqual([
      {
        name: 'ci',
        level: 'project',
        description: '',
        duration: -1,
        disable: false,
        permissions: [
          {
            kind: 'project',
            namespace: 'apps',
            access: [
              { resource: 'repository', action: 'pull' },
              { resource: 'repository', action: 'push' },
              { resource: 'artifact', action: 'read' },
              { resource: 'artifact', action: 'list' },
              { resource: 'tag', action: 'create' },
              { resource: 'tag', action: 'list' },
              { resource: 'accessory', action: 'list' },
            ],
          },
        ],
        secret: {
          name: 'harbor-robot-ci',
          namespaces: ['harbor'],
          registry: 'registry.example.test',
        },
      },
    ]);
    expect(document).toMatchObject({
      apiVersion: 'cdk8s-harbor/v1',
      owner: 'cdk8s-harbor:harbor/harbor',
      prune: false,
      robotNamePrefix: 'robot$',
      scanAllSchedule: null,
      systemCveAllowlist: null,
      configurations: {},
      secretConfigurations: {},
    });
    expect(env).toEqual({});
    expect(overwrite).toBeUndefined();
  });

  test('renders project metadata as the strings Harbor stores', () => {
    const { document } = renderSettings(
      withProject({
        public: true,
        scanOnPush: false,
        sbomOnPush: true,
        signatures: [SignatureEnforcement.NOTATION, SignatureEnforcement.COSIGN],
        preventVulnerable: { severity: Severity.HIGH },
        storageLimit: '10Gi',
        cveAllowlist: { items: ['CVE-2024-3094'], expiresAt: '2026-12-31' },
        scanner: 'Trivy',
      }),
      context,
    );

    expect(document.projects[0]).toEqual({
      name: 'apps',
      metadata: {
        public: 'true',
        auto_scan: 'false',
        auto_sbom_generation: 'true',
        enable_content_trust: 'true',
        enable_content_trust_cosign: 'true',
        prevent_vul: 'true',
        severity: 'high',
        reuse_sys_cve_allowlist: 'false',
      },
      storageLimit: 10 * 1024 ** 3,
      cveAllowlist: { items: ['CVE-2024-3094'], expiresAt: Date.UTC(2026, 11, 31) / 1000 },
      scanner: 'Trivy',
      retention: null,
    });
  });

  test('renders quotas in bytes', () => {
    const limits = ['500Mi', '2Ti', 1024, -1, 'unlimited'].map(
      (storageLimit) =>
        renderSettings(withProject({ storageLimit }), context).document.projects[0].storageLimit,
    );

    expect(limits).toEqual([500 * 1024 ** 2, 2 * 1024 ** 4, 1024, -1, -1]);
  });

  test('renders retention rules as the API takes them', () => {
    const { document } = renderSettings(
      withProject({
        retention: {
          rules: [
            { template: RetentionTemplate.LATEST_PUSHED, param: 10, tags: 'v*', untagged: false },
            {
              template: RetentionTemplate.ALWAYS,
              repositories: 'base/**',
              excludeRepositories: true,
              excludeTags: true,
              tags: 'dev-*',
            },
          ],
          schedule: '0 0 0 * * *',
        },
      }),
      context,
    );

    expect(document.projects[0].retention).toEqual({
      algorithm: 'or',
      cron: '0 0 0 * * *',
      rules: [
        {
          disabled: false,
          action: 'retain',
          template: 'latestPushedK',
          params: { latestPushedK: 10 },
          tag_selectors: [
            {
              kind: 'doublestar',
              decoration: 'matches',
              pattern: 'v*',
              extras: '{"untagged":false}',
            },
          ],
          scope_selectors: {
            repository: [{ kind: 'doublestar', decoration: 'repoMatches', pattern: '**' }],
          },
        },
        {
          disabled: false,
          action: 'retain',
          template: 'always',
          params: {},
          tag_selectors: [
            {
              kind: 'doublestar',
              decoration: 'excludes',
              pattern: 'dev-*',
              extras: '{"untagged":true}',
            },
          ],
          scope_selectors: {
            repository: [{ kind: 'doublestar', decoration: 'repoExcludes', pattern: 'base/**' }],
          },
        },
      ],
    });
  });

  test("merges a system robot's permissions per project, in declared order", () => {
    const { document } = renderSettings(
      {
        ...ci,
        robots: [
          {
            name: 'fleet',
            level: RobotLevel.system(),
            description: 'pulls for every cluster',
            duration: 30,
            permissions: [
              RobotPermission.pull('*'),
              RobotPermission.push('apps'),
              RobotPermission.system([{ resource: 'project', action: 'create' }]),
              RobotPermission.pull('apps'),
            ],
            pullSecret: { name: 'fleet-pull', namespaces: ['apps', 'web'] },
          },
        ],
      },
      context,
    );

    const robot = document.robots[0];
    expect(robot.permissions.map((p) => [p.kind, p.namespace, p.access.length])).toEqual([
      ['project', '*', 2],
      ['project', 'apps', 7],
      ['system', '/', 1],
    ]);
    expect(robot).toMatchObject({
      level: 'system',
      duration: 30,
      description: 'pulls for every cluster',
    });
    expect(robot.secret).toEqual({
      name: 'fleet-pull',
      namespaces: ['apps', 'web'],
      registry: 'registry.example.test',
    });
  });

  test('names credentials by environment variable and maps each to its Secret key', () => {
    const { document, env } = renderSettings(
      {
        registries: [
          {
            name: 'dr-a',
            type: ReplicationEndpointType.HARBOR,
            url: 'https://dr.example.test',
            credential: {
              accessKey: { name: 'dr-robot', key: 'username' },
              accessSecret: { name: 'dr-robot', key: 'password' },
            },
          },
          {
            name: 'dr_a',
            type: ReplicationEndpointType.DOCKER_REGISTRY,
            url: 'https://mirror.example.test',
            credential: {
              type: 'oauth' as never,
              accessKey: { name: 'mirror', key: 'id' },
              accessSecret: { name: 'mirror', key: 'token' },
            },
          },
          { name: 'hub', type: ReplicationEndpointType.DOCKER_HUB, url: 'https://hub.docker.com' },
        ],
        scanners: [
          {
            name: 'extra',
            url: 'http://scanner.tools:8080',
            auth: ScannerAuth.bearer({ name: 'scanner', key: 'token' }),
          },
          { name: 'plain', url: 'http://plain.tools:8080' },
        ],
      },
      context,
    );

    expect(document.registries.map((r) => r.credential)).toEqual([
      {
        type: 'basic',
        accessKeyEnv: 'HARBOR_REGISTRY_DR_A_ACCESS_KEY',
        accessSecretEnv: 'HARBOR_REGISTRY_DR_A_ACCESS_SECRET',
      },
      {
        type: 'oauth',
        accessKeyEnv: 'HARBOR_REGISTRY_DR_A_2_ACCESS_KEY',
        accessSecretEnv: 'HARBOR_REGISTRY_DR_A_2_ACCESS_SECRET',
      },
      null,
    ]);
    expect(document.scanners.map((s) => [s.auth, s.accessCredentialEnv])).toEqual([
      ['Bearer', 'HARBOR_SCANNER_EXTRA_CREDENTIAL'],
      ['', null],
    ]);
    expect(env).toEqual({
      HARBOR_REGISTRY_DR_A_ACCESS_KEY: { name: 'dr-robot', key: 'username' },
      HARBOR_REGISTRY_DR_A_ACCESS_SECRET: { name: 'dr-robot', key: 'password' },
      HARBOR_REGISTRY_DR_A_2_ACCESS_KEY: { name: 'mirror', key: 'id' },
      HARBOR_REGISTRY_DR_A_2_ACCESS_SECRET: { name: 'mirror', key: 'token' },
      HARBOR_SCANNER_EXTRA_CREDENTIAL: { name: 'scanner', key: 'token' },
    });
    for (const name of Object.keys(env)) expect(name).toMatch(/^[A-Z0-9_]+$/);
  });

  test('renders replication policies and schedules', () => {
    const { document } = renderSettings(
      {
        registries: [
          { name: 'dr', type: ReplicationEndpointType.HARBOR, url: 'https://dr.example.test' },
        ],
        replicationPolicies: [
          {
            name: 'to-dr',
            pushTo: 'dr',
            filters: {
              name: 'apps/**',
              tag: 'dev-*',
              excludeTags: true,
              resource: 'image' as never,
            },
            trigger: ReplicationTrigger.scheduled('0 0 2 * * *'),
            destNamespace: 'backup',
            destNamespaceReplaceCount: 1,
          },
          { name: 'from-dr', pullFrom: 'dr' },
        ],
        scanAllSchedule: ScanAllSchedule.daily(),
      },
      context,
    );

    expect(document.replicationPolicies[0]).toEqual({
      name: 'to-dr',
      description: '',
      srcRegistry: null,
      destRegistry: 'dr',
      destNamespace: 'backup',
      destNamespaceReplaceCount: 1,
      filters: [
        { type: 'name', value: 'apps/**' },
        { type: 'tag', value: 'dev-*', decoration: 'excludes' },
        { type: 'resource', value: 'image' },
      ],
      trigger: { type: 'scheduled', cron: '0 0 2 * * *' },
      override: true,
      enabled: true,
      replicateDeletion: false,
      speed: -1,
      copyByChunk: false,
    });
    expect(document.replicationPolicies[1]).toMatchObject({
      srcRegistry: 'dr',
      destRegistry: null,
      filters: [],
      trigger: { type: 'manual', cron: null },
    });
    expect(document.scanAllSchedule).toEqual({ type: 'Daily', cron: '0 0 0 * * *' });
    expect(
      renderSettings({ scanAllSchedule: ScanAllSchedule.none() }, context).document.scanAllSchedule,
    ).toEqual({ type: 'None', cron: null });
  });

  const oidc: HarborSettingsDeclaration = {
    authentication: HarborAuthentication.oidc({
      name: 'Vault',
      endpoint: 'https://vault.example.test/v1/identity/oidc/provider/harbor',
      clientId: 'harbor',
      clientSecret: { name: 'harbor-oidc', key: 'client-secret' },
      groupsClaim: 'groups',
      adminGroup: 'harbor-admins',
      autoOnboard: true,
      userClaim: 'preferred_username',
    }),
    auditLog: {
      forwardEndpoint: 'syslog.example.test:514',
      disabledEventTypes: ['pull_artifact', 'create_user'],
    },
    projectCreationRestriction: ProjectCreationRestriction.ADMIN_ONLY,
    robotTokenDuration: 90,
    selfRegistration: false,
  };

  test('sends user settings through the API, secrets by environment variable', () => {
    const { document, env, overwrite } = renderSettings(oidc, context);

    expect(document.configurations).toEqual({
      auth_mode: 'oidc_auth',
      oidc_name: 'Vault',
      oidc_endpoint: 'https://vault.example.test/v1/identity/oidc/provider/harbor',
      oidc_client_id: 'harbor',
      oidc_scope: 'openid,profile,email,offline_access',
      oidc_user_claim: 'preferred_username',
      oidc_groups_claim: 'groups',
      oidc_admin_group: 'harbor-admins',
      oidc_group_filter: '',
      oidc_verify_cert: true,
      oidc_auto_onboard: true,
      oidc_logout: false,
      oidc_extra_redirect_parms: '{}',
      audit_log_forward_endpoint: 'syslog.example.test:514',
      skip_audit_log_database: false,
      disabled_audit_log_event_types: 'pull_artifact,create_user',
      project_creation_restriction: 'adminonly',
      robot_token_duration: 90,
      self_registration: false,
    });
    expect(document.secretConfigurations).toEqual({
      oidc_client_secret: 'HARBOR_OIDC_CLIENT_SECRET',
    });
    expect(env).toEqual({
      HARBOR_OIDC_CLIENT_SECRET: { name: 'harbor-oidc', key: 'client-secret' },
    });
    expect(overwrite).toBeUndefined();
  });

  test('moves user settings into CONFIG_OVERWRITE_JSON with ENVIRONMENT delivery', () => {
    const { document, env, overwrite } = renderSettings(
      { ...oidc, ...ci, userSettingsVia: UserSettingsDelivery.ENVIRONMENT },
      context,
    );

    expect(document.configurations).toEqual({});
    expect(document.secretConfigurations).toEqual({});
    expect(env).toEqual({});
    expect(overwrite?.json).toEqual(renderSettings(oidc, context).document.configurations);
    expect(overwrite?.secrets).toEqual({
      oidc_client_secret: { name: 'harbor-oidc', key: 'client-secret' },
    });
    expect(document.projects.map((p) => p.name)).toEqual(['apps']);
  });

  test('gives LDAP settings their native JSON types', () => {
    const { document, env } = renderSettings(
      {
        authentication: HarborAuthentication.ldap({
          url: 'ldaps://ldap.example.test',
          searchDn: 'cn=harbor,dc=example,dc=test',
          searchPassword: { name: 'harbor-ldap', key: 'password' },
          baseDn: 'ou=people,dc=example,dc=test',
          scope: LdapScope.ONE_LEVEL,
        }),
      },
      context,
    );

    expect(document.configurations).toMatchObject({
      auth_mode: 'ldap_auth',
      ldap_url: 'ldaps://ldap.example.test',
      ldap_scope: 1,
      ldap_timeout: 5,
      ldap_verify_cert: true,
      ldap_uid: 'uid',
      ldap_group_search_scope: 2,
    });
    expect(document.configurations).not.toHaveProperty('ldap_search_password');
    expect(document.secretConfigurations).toEqual({
      ldap_search_password: 'HARBOR_LDAP_SEARCH_PASSWORD',
    });
    expect(env.HARBOR_LDAP_SEARCH_PASSWORD).toEqual({ name: 'harbor-ldap', key: 'password' });
  });

  test('puts no Secret reference into the document, only environment variable names', () => {
    const d: HarborSettingsDeclaration = {
      ...oidc,
      registries: [
        {
          name: 'dr',
          type: ReplicationEndpointType.HARBOR,
          url: 'https://dr.example.test',
          credential: {
            accessKey: { name: 'dr-credentials', key: 'username' },
            accessSecret: { name: 'dr-credentials', key: 'password' },
          },
        },
      ],
    };

    const { document, env } = renderSettings(d, context);

    const text = JSON.stringify(document);
    expect(text).not.toContain('dr-credentials');
    expect(text).not.toContain('harbor-oidc');
    const named = [
      ...document.registries.flatMap((r) =>
        r.credential ? [r.credential.accessKeyEnv, r.credential.accessSecretEnv] : [],
      ),
      ...Object.values(document.secretConfigurations),
    ];
    expect(named.sort()).toEqual(Object.keys(env).sort());
  });

  test('renders the same declaration the same way every time', () => {
    const build = (): HarborSettingsDeclaration => ({
      ...oidc,
      ...ci,
      registries: [
        {
          name: 'dr',
          type: ReplicationEndpointType.HARBOR,
          url: 'https://dr.example.test',
          credential: { accessKey: { name: 'a', key: 'b' }, accessSecret: { name: 'a', key: 'c' } },
        },
      ],
    });

    expect(JSON.stringify(renderSettings(build(), context))).toBe(
      JSON.stringify(renderSettings(build(), context)),
    );
  });

  test('offers exactly the replication types core allows', () => {
    expect(Object.values(ReplicationEndpointType).sort()).toEqual([...REPLICATION_ADAPTERS].sort());
  });

  test('takes a date-time with a zone as the instant it names', () => {
    const rendered = renderSettings(
      withProject({ cveAllowlist: { items: [], expiresAt: '2026-12-31T23:30:00-01:00' } }),
      context,
    );

    expect(rendered.document.projects[0].cveAllowlist!.expiresAt).toBe(
      Date.UTC(2027, 0, 1, 0, 30) / 1000,
    );
  });
});

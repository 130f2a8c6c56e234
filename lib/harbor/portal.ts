import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import { HarborComponentProps } from './common';
import { HARBOR_UID } from './core';
import {
  componentPorts,
  internalTlsDir,
  internalTlsMounts,
  portsFor,
  probeScheme,
} from './internal-tls';
import { ComponentResources, resourcesOf } from './resources';
import {
  Component,
  componentDeployment,
  componentService,
  harborContainer,
  labelsOf,
  rollOnChange,
} from '../private/component';
import { httpProbes } from '../private/workload';

export interface HarborPortalProps extends HarborComponentProps {
  /** @default 1 */
  readonly replicas?: number;

  /**
   * Listen on IPv6 as well. Leave it off on nodes where IPv6 is disabled: nginx refuses to
   * start when it cannot bind `[::]`.
   * @default false
   */
  readonly ipv6?: boolean;

  /** @default - the requests of a small installation */
  readonly resources?: ComponentResources;
}

export const PORTAL_PORT = 8080;

/** Harbor's web UI: nginx serving the single-page application. */
export class HarborPortal extends Construct {
  public readonly deployment: kplus.Deployment;
  public readonly service: kplus.Service;
  public readonly config: kplus.ConfigMap;

  public constructor(scope: Construct, id: string, props: HarborPortalProps) {
    super(scope, id);

    const name = `${props.instance}-portal`;
    const component: Component = {
      instance: props.instance,
      component: 'portal',
      version: props.images.version,
      uid: HARBOR_UID,
    };
    const labels = labelsOf(component);
    const port = componentPorts(props.endpoints).portal;

    this.config = new kplus.ConfigMap(this, 'Config', {
      metadata: { name, labels },
      data: {
        'nginx.conf': portalNginxConf(props.ipv6 ?? false, props.endpoints.internalTls ?? false),
      },
    });

    this.deployment = componentDeployment(this, component, name, {
      replicas: props.replicas ?? 1,
      containers: [
        harborContainer(component, {
          name: 'portal',
          image: props.images.portal,
          ports: [{ number: port.container, name: props.endpoints.internalTls ? 'https' : 'http' }],
          resources: resourcesOf(
            props.resources ?? { cpu: '50m', memory: '64Mi', memoryLimit: '256Mi' },
          ),
          volumeMounts: [
            {
              volume: kplus.Volume.fromConfigMap(this, 'NginxConf', this.config, {
                name: 'config',
              }),
              path: '/etc/nginx/nginx.conf',
              subPath: 'nginx.conf',
              readOnly: true,
            },
            ...internalTlsMounts(this, props, 'portal'),
          ],
          ...httpProbes(
            '/',
            port.container,
            { period: 5, failureThreshold: 24 },
            3,
            probeScheme(props.endpoints),
          ),
        }),
      ],
    });
    rollOnChange(this.deployment, this.config);
    this.service = componentService(this, component, props.endpoints.portalService, [
      { name: port.name, port: port.service, targetPort: port.container },
    ]);
  }
}

/**
 * The portal's nginx configuration. nginx runs unprivileged, so its pid file and every temp
 * path live under /tmp; unknown paths fall back to the SPA's index.html. With `tls` it serves
 * HTTPS on 8443 with the certificate of internal TLS.
 */
export function portalNginxConf(ipv6: boolean, tls = false): string {
  const port = portsFor(tls).portal.container;
  const ssl = tls ? ' ssl' : '';
  const dir = internalTlsDir('portal');
  const listen = [
    `    listen ${port}${ssl};`,
    ...(ipv6 ? [`    listen [::]:${port}${ssl};`] : []),
    ...(tls
      ? [
          `    ssl_certificate ${dir}/tls.crt;`,
          `    ssl_certificate_key ${dir}/tls.key;`,
          '    ssl_protocols TLSv1.2 TLSv1.3;',
        ]
      : []),
  ];
  return [
    'worker_processes auto;',
    'pid /tmp/nginx.pid;',
    // logs go to the container's output whatever the image links under /var/log
    'error_log stderr warn;',
    '',
    'events {',
    '  worker_connections 1024;',
    '}',
    '',
    'http {',
    '  client_body_temp_path /tmp/client_body_temp;',
    '  proxy_temp_path /tmp/proxy_temp;',
    '  fastcgi_temp_path /tmp/fastcgi_temp;',
    '  uwsgi_temp_path /tmp/uwsgi_temp;',
    '  scgi_temp_path /tmp/scgi_temp;',
    '  include /etc/nginx/mime.types;',
    '  access_log /dev/stdout;',
    '  server_tokens off;',
    '',
    '  server {',
    ...listen,
    '    server_name localhost;',
    '    root /usr/share/nginx/html;',
    '    index index.html index.htm;',
    '',
    '    gzip on;',
    '    gzip_min_length 1000;',
    '    gzip_proxied expired no-cache no-store private auth;',
    '    gzip_types text/plain text/css application/json application/javascript text/xml' +
      ' application/xml text/javascript;',
    '',
    '    location / {',
    '      try_files $uri $uri/ /index.html;',
    '    }',
    '',
    '    location = /index.html {',
    '      add_header Cache-Control "no-store, no-cache, must-revalidate";',
    '    }',
    '',
    '    location /devcenter-api-2.0 {',
    '      try_files $uri $uri/ /swagger-ui-index.html;',
    '    }',
    '  }',
    '}',
    '',
  ].join('\n');
}

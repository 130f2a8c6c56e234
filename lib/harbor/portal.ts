import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import { HarborComponentProps } from './common';
import { HARBOR_UID } from './core';
import { ComponentResources, resourcesOf } from './resources';
import { componentLabels, selectorLabels } from '../private/labels';
import {
  containerSecurity, httpProbe, podSecurity, restrictPod, selectByLabels,
} from '../private/workload';

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
    const labels = componentLabels(props.instance, 'portal', props.images.version);

    this.config = new kplus.ConfigMap(this, 'Config', {
      metadata: { name, labels },
      data: { 'nginx.conf': portalNginxConf(props.ipv6 ?? false) },
    });

    this.deployment = new kplus.Deployment(this, 'Resource', {
      metadata: { name, labels },
      replicas: props.replicas ?? 1,
      select: false,
      podMetadata: { labels },
      securityContext: podSecurity(HARBOR_UID, HARBOR_UID),
      containers: [{
        name: 'portal',
        image: props.images.portal,
        imagePullPolicy: kplus.ImagePullPolicy.IF_NOT_PRESENT,
        ports: [{ number: PORTAL_PORT, name: 'http' }],
        securityContext: containerSecurity(HARBOR_UID, HARBOR_UID),
        resources: resourcesOf(props.resources ?? { cpu: '50m', memory: '64Mi', memoryLimit: '256Mi' }),
        volumeMounts: [{
          volume: kplus.Volume.fromConfigMap(this, 'NginxConf', this.config, { name: 'config' }),
          path: '/etc/nginx/nginx.conf',
          subPath: 'nginx.conf',
          readOnly: true,
        }],
        startup: httpProbe('/', PORTAL_PORT, { period: 5, failureThreshold: 24 }),
        liveness: httpProbe('/', PORTAL_PORT, { period: 10 }),
        readiness: httpProbe('/', PORTAL_PORT, { period: 10 }),
      }],
    });
    selectByLabels(this.deployment, selectorLabels(props.instance, 'portal'));
    restrictPod(this.deployment);

    this.service = new kplus.Service(this, 'Service', {
      metadata: { name: props.endpoints.portalService, labels },
      ports: [{ name: 'http-web', port: 80, targetPort: PORTAL_PORT }],
    });
    selectByLabels(this.service, selectorLabels(props.instance, 'portal'));
  }
}

/**
 * The portal's nginx configuration. nginx runs unprivileged, so its pid file and every temp
 * path live under /tmp; unknown paths fall back to the SPA's index.html.
 */
export function portalNginxConf(ipv6: boolean): string {
  const listen = [`    listen ${PORTAL_PORT};`, ...(ipv6 ? [`    listen [::]:${PORTAL_PORT};`] : [])];
  return [
    'worker_processes auto;',
    'pid /tmp/nginx.pid;',
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
    '    gzip_types text/plain text/css application/json application/javascript text/xml'
      + ' application/xml text/javascript;',
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

import { isIP } from 'net';

/**
 * Checks of single values, shared by the configuration file and the constructs. Each returns
 * undefined for a good value, or the rest of a sentence that starts with the field and value:
 * `host: "Foo" is not a DNS name; ...`.
 */
export type Check<T> = (value: T) => string | undefined;

const LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** A DNS-1123 label, as namespaces and Service names must be. */
export const label: Check<string> = (value) =>
  LABEL.test(value) && value.length <= 63
    ? undefined
    : "is not a DNS label; use lowercase letters, digits and '-', at most 63 characters," +
      ' starting and ending with a letter or digit';

/** A DNS-1123 subdomain, as most object names (Secrets, StorageClasses, issuers) must be. */
export const objectName: Check<string> = (value) =>
  value.length <= 253 && value.split('.').every((part) => LABEL.test(part))
    ? undefined
    : "is not a Kubernetes object name; use lowercase letters, digits, '-' and '.'," +
      ' each dot-separated part starting and ending with a letter or digit';

const LABEL_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;

/** A label key: an optional DNS subdomain prefix and `/`, then a name of at most 63 characters. */
export const labelKey: Check<string> = (key) => {
  const slash = key.lastIndexOf('/');
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = key.slice(slash + 1);
  const goodPrefix =
    prefix === undefined ||
    (prefix.length <= 253 && prefix.split('.').every((part) => LABEL.test(part)));
  return goodPrefix && LABEL_NAME.test(name)
    ? undefined
    : "is not a label key; use letters, digits, '-', '_' and '.' (at most 63), optionally" +
        ' after a DNS prefix and "/", like example.test/team';
};

/** A label value: empty, or at most 63 characters. */
export const labelValue: Check<string> = (value) =>
  value === '' || LABEL_NAME.test(value)
    ? undefined
    : "is not a label value; use at most 63 letters, digits, '-', '_' and '.', starting and" +
      ' ending with a letter or digit';

/** Namespaces Kubernetes itself owns; Harbor must not be applied into, or prune, them. */
const SYSTEM_NAMESPACES = ['default', 'kube-system', 'kube-public', 'kube-node-lease'];

export const namespace: Check<string> = (value) =>
  label(value) ??
  (SYSTEM_NAMESPACES.includes(value)
    ? 'is a namespace Kubernetes owns; use a namespace of its own'
    : undefined);

/** A key of a Secret or ConfigMap. */
export const dataKey: Check<string> = (value) =>
  /^[-._a-zA-Z0-9]+$/.test(value) && value.length <= 253
    ? undefined
    : "is not a Secret key; use letters, digits, '-', '_' and '.'";

/** A host name clients reach, without scheme, port or path. */
export const dnsName: Check<string> = (value) => {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) {
    return 'is a URL; give the host name alone, and the port in its own setting';
  }
  if (isIP(value)) return 'is an IP address; use a DNS name that a certificate can carry';
  if (/:\d+$/.test(value)) return 'includes a port; give the host name alone';
  return value.length <= 253 &&
    value.split('.').every((part) => LABEL.test(part) && part.length <= 63)
    ? undefined
    : 'is not a DNS name; use lowercase labels like registry.example.test';
};

/** A server a component connects to: a DNS name or an IPv4 address, without a port. */
export const serverAddress: Check<string> = (value) => {
  if (isIP(value) === 4) {
    const [first, second] = value.split('.').map(Number);
    const special = first === 0 || first >= 224 || (first === 169 && second === 254);
    return special
      ? 'is not an address a server can have; use its unicast IPv4 address'
      : undefined;
  }
  if (isIP(value) === 6) return 'is an IPv6 address, which is not supported here; use a DNS name';
  return dnsName(value);
};

/** The name of a Harbor instance, which every object name starts with. */
export const instanceName: Check<string> = (value) =>
  /^[a-z]([-a-z0-9]{0,28}[a-z0-9])?$/.test(value)
    ? undefined
    : "is not a short DNS label; use lowercase letters, digits and '-', at most 30 characters," +
      ' starting with a letter';

export const port: Check<number> = (value) =>
  Number.isInteger(value) && value >= 1 && value <= 65535
    ? undefined
    : 'is not a TCP port; use a whole number from 1 to 65535';

/** A size in MiB or GiB with at most six digits, which any quantity parser reads exactly. */
export const size: Check<string> = (value) =>
  /^[1-9]\d{0,5}(Mi|Gi)$/.test(value) ? undefined : 'is not a size; use e.g. "512Mi" or "50Gi"';

export const cpu: Check<string> = (value) =>
  /^([1-9]\d{0,5}m|[1-9]\d{0,2}(\.\d{1,3})?|0\.\d{1,3})$/.test(value)
    ? undefined
    : 'is not a CPU amount; use e.g. "250m" or "1"';

/** Bytes of a size that `size` accepts. */
export function bytesOf(value: string): number {
  const amount = Number(value.slice(0, -2));
  return amount * (value.endsWith('Gi') ? 1024 ** 3 : 1024 ** 2);
}

/** A duration in whole hours or minutes (`2160h`, `90m`), bounded as cert-manager is. */
export function duration(min: number, minText: string): Check<string> {
  return (value) => {
    const hours = hoursOf(value);
    if (hours === undefined)
      return 'is not a duration; use whole hours ("2160h") or minutes ("90m")';
    if (hours < min) return `is shorter than ${minText}, the least cert-manager accepts`;
    if (hours > 876000) return 'is longer than 100 years (876000h)';
    return undefined;
  };
}

export function hoursOf(value: string): number | undefined {
  const match = /^(\d{1,7})(h|m)$/.exec(value);
  if (!match) return undefined;
  return match[2] === 'h' ? Number(match[1]) : Number(match[1]) / 60;
}

/** A Harbor 2.x release tag. */
export const harborVersion: Check<string> = (value) =>
  /^v2\.\d{1,3}\.\d{1,3}$/.test(value)
    ? undefined
    : 'is not a Harbor 2.x release tag; use a tag like v2.15.2';

/** A registry host with an optional port and path, where an image mirror keeps repositories. */
export const imageRegistry: Check<string> = (value) =>
  /^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:\d{1,5})?(\/[a-z0-9]+([._-][a-z0-9]+)*)*$/.test(value)
    ? undefined
    : 'is not a registry host with an optional path; use e.g. "registry.example.test/mirror",' +
      ' without scheme, tag or trailing slash';

/** A user name that can stand in a Redis URL without escaping. */
export const urlUser: Check<string> = (value) =>
  /^[A-Za-z0-9._~-]+$/.test(value)
    ? undefined
    : "is not usable in a Redis URL; use letters, digits, '.', '_', '~' and '-'";

/** An absolute http or https URL with a host, such as an OIDC issuer or a registry. */
export const httpUrl: Check<string> = (value) => {
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (!url || !/^https?:$/.test(url.protocol) || url.hostname === '' || /\s/.test(value)) {
    return 'is not an http(s) URL; use e.g. "https://registry.example.test"';
  }
  // the URL is written into the output as it is: a password in it would be too
  return url.username || url.password
    ? 'holds a user name or password, which would land in the output; give the URL alone and' +
        ' the credentials in their Secret reference'
    : undefined;
};

/** An LDAP server address: `ldaps://host[:port]`, no credentials, no path. */
export const ldapUrl: Check<string> = (value) => {
  const match = /^ldaps?:\/\/([^\s/@:]+)(?::(\d+))?$/.exec(value);
  if (value.includes('@')) {
    return (
      'holds a user name or password, which would land in the output; give the bind DN in' +
      ' searchDn and its password in searchPassword'
    );
  }
  if (!match) return 'is not an LDAP URL; use ldaps://host[:port]';
  return match[2] !== undefined && port(Number(match[2]))
    ? `has port ${match[2]}, which is not a TCP port; use 1 to 65535`
    : undefined;
};

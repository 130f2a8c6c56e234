import { Construct } from 'constructs';
import * as trust from '../../imports/trust.cert-manager.io';
import { dataKey, objectName } from '../private/checks';
import { Problems, show } from '../private/validation';
import { clusterScoped } from '../private/workload';

/** A key of a ConfigMap or Secret in trust-manager's trust namespace, holding PEM certificates. */
export interface TrustSource {
  /** `ConfigMap` (public certificates need no Secret) or `Secret`, such as a CA Certificate's. */
  readonly kind: 'ConfigMap' | 'Secret';
  readonly name: string;
  /** @default 'ca.crt' */
  readonly key?: string;
}

export interface TrustBundleProps {
  /** Name of the Bundle, and of the ConfigMap it writes into every selected namespace. */
  readonly name: string;

  /**
   * Where the CA certificates come from. trust-manager reads sources only in its trust
   * namespace (`cert-manager` unless its chart says otherwise).
   */
  readonly sources: readonly TrustSource[];

  /**
   * Key of the certificates in the written ConfigMaps.
   * @default 'ca.crt'
   */
  readonly key?: string;
}

/** The ConfigMap a bundle writes, as pods refer to it. */
export interface TrustBundleRef {
  readonly name: string;
  readonly key: string;
  readonly configMap: true;
}

/**
 * A trust-manager Bundle: it copies the private root CA into a ConfigMap of every namespace
 * that carries `namespaceLabels`, and keeps the copies current when the CA changes. It
 * publishes only what its sources hold, never the public roots.
 */
export class TrustBundle extends Construct {
  public static check(props: TrustBundleProps, prefix = ''): readonly string[] {
    const problems = new Problems();
    problems.value(
      `${prefix}name`,
      props.name,
      (name) => objectName(name) ?? (name.length > 63 ? 'is longer than 63 characters' : undefined),
    );
    problems.value(`${prefix}key`, props.key, dataKey);
    problems.check(
      props.sources.length > 0,
      `${prefix}sources`,
      'is empty; name the ConfigMap or Secret that holds the root CA',
    );
    props.sources.forEach((source, i) => {
      problems.value(`${prefix}sources[${i}].name`, source.name, objectName);
      problems.value(`${prefix}sources[${i}].key`, source.key, dataKey);
    });
    return problems.all;
  }

  /** The ConfigMap the bundle writes into each selected namespace. */
  public readonly ref: TrustBundleRef;
  /** The labels a namespace needs to receive the bundle. */
  public readonly namespaceLabels: Record<string, string>;
  public readonly resource: trust.Bundle;

  public constructor(scope: Construct, id: string, props: TrustBundleProps) {
    super(scope, id);

    const problems = new Problems();
    problems.addAll(TrustBundle.check(props));
    problems.throwIfAny(`trust bundle ${show(props.name)}`);

    const key = props.key ?? 'ca.crt';
    this.namespaceLabels = { [`trust.cdk8s-harbor.io/${props.name}`]: 'true' };

    this.resource = new trust.Bundle(this, 'Resource', {
      metadata: { name: props.name },
      spec: {
        sources: props.sources.map((source) => {
          const ref = { name: source.name, key: source.key ?? 'ca.crt' };
          return source.kind === 'ConfigMap' ? { configMap: ref } : { secret: ref };
        }),
        // an empty selector would mean every namespace of the cluster
        target: { configMap: { key }, namespaceSelector: { matchLabels: this.namespaceLabels } },
      },
    });
    clusterScoped(this.resource);
    this.ref = { name: props.name, key, configMap: true };
  }
}

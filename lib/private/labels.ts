/**
 * The labels every object of one Harbor instance carries. Selectors use only the stable subset
 * (name, instance, component) because a Deployment's selector can never change after creation.
 */
export function selectorLabels(instance: string, component: string): Record<string, string> {
  return {
    'app.kubernetes.io/name': 'harbor',
    'app.kubernetes.io/instance': instance,
    'app.kubernetes.io/component': component,
  };
}

export function componentLabels(
  instance: string,
  component: string,
  version: string,
): Record<string, string> {
  return {
    ...selectorLabels(instance, component),
    'app.kubernetes.io/part-of': 'harbor',
    'app.kubernetes.io/version': version,
    'app.kubernetes.io/managed-by': 'cdk8s-harbor',
  };
}

/** The label naming a task's app, as recommended by Kubernetes. */
export const APP_NAME_LABEL = "app.kubernetes.io/name";

/** The older, shorter app label, used when {@link APP_NAME_LABEL} is absent. */
export const APP_LABEL = "app";

/**
 * The group of tasks that name no app. Parentheses cannot occur in a label value, so no app's name can
 * collide with it.
 */
export const GLOBAL_GROUP = "(global)";

/**
 * The retention group of a task: the value of its `app.kubernetes.io/name` label, else of its `app` label,
 * else {@link GLOBAL_GROUP}. An empty label value names no app and counts as absent.
 */
export function groupOf(labels: Readonly<Record<string, string>> | undefined): string {
  const name = labels?.[APP_NAME_LABEL];
  if (name) return name;
  const app = labels?.[APP_LABEL];
  if (app) return app;
  return GLOBAL_GROUP;
}

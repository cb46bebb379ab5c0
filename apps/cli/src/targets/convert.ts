/** A Task resource (`apiVersion`, `kind: Task`, `metadata`, `spec`) as the executor's `{name, labels, spec}`. */
export function executorItemOf(value: unknown): { value: unknown; fromResource: boolean } {
  if (typeof value !== "object" || value === null || !("kind" in value)) return { value, fromResource: false };
  const resource = value as { kind?: unknown; metadata?: { name?: unknown; labels?: unknown }; spec?: { process?: unknown; container?: unknown } };
  const spec = resource.spec ?? {};
  return {
    fromResource: true,
    value: {
      name: resource.metadata?.name,
      ...(resource.metadata?.labels ? { labels: resource.metadata.labels } : {}),
      spec: {
        ...(spec.process !== undefined ? { process: spec.process } : {}),
        ...(spec.container !== undefined ? { container: spec.container } : {}),
      },
    },
  };
}

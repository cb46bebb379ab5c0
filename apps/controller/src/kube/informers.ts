import * as k8s from "@kubernetes/client-node";
import type { Logger } from "@org/task-core";

interface Named {
  metadata?: { name?: string; namespace?: string; resourceVersion?: string };
}

export function keyOf(object: Named): string {
  return `${object.metadata?.namespace ?? ""}/${object.metadata?.name ?? ""}`;
}

export function splitKey(key: string): { namespace: string; name: string } {
  const slash = key.indexOf("/");
  return { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}

/** Whether `candidate` is a later version than `current` (resourceVersions compared as numbers where both are etcd revisions). */
function isNewer(candidate: Named, current: Named | undefined): boolean {
  const a = candidate.metadata?.resourceVersion;
  const b = current?.metadata?.resourceVersion;
  if (!a || !b || !/^\d+$/.test(a) || !/^\d+$/.test(b)) return true;
  return BigInt(a) > BigInt(b);
}

export type ChangeHandler<T> = (key: string, object: T | undefined, previous: T | undefined) => void;

/**
 * A cache of one resource kept by an informer (list, then watch from the list's resourceVersion; re-list on
 * 410 Gone, restart with backoff after errors). The controller's own writes are applied to it at once
 * (`apply`), so the next decision sees them before the watch delivers them; an older version never
 * replaces a newer one.
 */
export class ObjectStore<T extends Named> {
  private readonly objects = new Map<string, T>();
  private readonly handlers: ChangeHandler<T>[] = [];
  /** Secondary indexes, as client-go's indexers: objects by a derived value, kept up to date on every change. */
  private readonly indexes = new Map<string, { valueOf: (object: T) => string | undefined; buckets: Map<string, Map<string, T>> }>();
  private readonly informer: k8s.Informer<k8s.KubernetesObject>;
  private synced = false;
  private stopped = false;
  private restartTimer: NodeJS.Timeout | undefined;
  private failures = 0;
  /** The last time a list or watch answered (for readiness). */
  lastContactMs = 0;

  constructor(
    config: k8s.KubeConfig,
    readonly name: string,
    path: string,
    list: () => Promise<{ items: T[]; metadata?: { resourceVersion?: string } }>,
    private readonly logger: Logger,
    labelSelector?: string,
  ) {
    this.informer = k8s.makeInformer(config, path, async () => {
      const result = await list();
      this.lastContactMs = Date.now();
      return result as unknown as k8s.KubernetesListObject<k8s.KubernetesObject>;
    }, labelSelector);
    const changed = (object: k8s.KubernetesObject) => {
      this.lastContactMs = Date.now();
      this.failures = 0;
      this.put(object as T);
    };
    this.informer.on("add", changed);
    this.informer.on("update", changed);
    this.informer.on("delete", (object) => {
      this.lastContactMs = Date.now();
      this.remove(keyOf(object));
    });
    this.informer.on("error", (error: unknown) => this.restartLater(error));
  }

  onChange(handler: ChangeHandler<T>): void {
    this.handlers.push(handler);
  }

  get hasSynced(): boolean {
    return this.synced;
  }

  /** Lists and starts watching; resolves once the first list is in the cache. */
  async start(): Promise<void> {
    this.stopped = false;
    for (;;) {
      try {
        await this.informer.start();
        this.synced = true;
        return;
      } catch (error) {
        if (this.stopped) return;
        const delay = this.nextDelay();
        this.logger.warn("informer list failed; retrying", { event: "list-failed", resource: this.name, error: String(error), retryInMs: delay });
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.restartTimer);
    await this.informer.stop();
  }

  get(key: string): T | undefined {
    return this.objects.get(key);
  }

  list(): T[] {
    return [...this.objects.values()];
  }

  /** Adds an index of the objects by `valueOf` (undefined: not indexed), e.g. Tasks by executor pod. */
  addIndex(name: string, valueOf: (object: T) => string | undefined): void {
    this.indexes.set(name, { valueOf, buckets: new Map() });
    for (const [key, object] of this.objects) this.indexPut(name, key, object);
  }

  /** The objects whose indexed value is `value`. */
  byIndex(name: string, value: string): T[] {
    return [...(this.index(name).buckets.get(value)?.values() ?? [])];
  }

  /** The indexed values with at least one object, and how many objects have each. */
  indexCounts(name: string): Map<string, number> {
    return new Map([...this.index(name).buckets].map(([value, bucket]) => [value, bucket.size]));
  }

  private index(name: string) {
    const index = this.indexes.get(name);
    if (!index) throw new Error(`no index ${name} on ${this.name}`);
    return index;
  }

  private indexPut(name: string, key: string, object: T): void {
    const { valueOf, buckets } = this.index(name);
    const value = valueOf(object);
    if (value === undefined) return;
    const bucket = buckets.get(value) ?? new Map<string, T>();
    buckets.set(value, bucket.set(key, object));
  }

  private indexDelete(key: string, object: T): void {
    for (const { valueOf, buckets } of this.indexes.values()) {
      const value = valueOf(object);
      const bucket = value === undefined ? undefined : buckets.get(value);
      if (!bucket?.delete(key) || bucket.size > 0) continue;
      buckets.delete(value!);
    }
  }

  /** Applies an object the controller just wrote (or read) to the cache. */
  apply(object: T): void {
    this.put(object);
  }

  private put(object: T): void {
    const key = keyOf(object);
    const previous = this.objects.get(key);
    if (!isNewer(object, previous)) return;
    this.objects.set(key, object);
    if (previous) this.indexDelete(key, previous);
    for (const name of this.indexes.keys()) this.indexPut(name, key, object);
    for (const handler of this.handlers) handler(key, object, previous);
  }

  private remove(key: string): void {
    const previous = this.objects.get(key);
    if (!previous) return;
    this.objects.delete(key);
    this.indexDelete(key, previous);
    for (const handler of this.handlers) handler(key, undefined, previous);
  }

  private nextDelay(): number {
    this.failures += 1;
    return Math.min(30_000, 200 * 2 ** Math.min(this.failures - 1, 8));
  }

  private restartLater(error: unknown): void {
    if (this.stopped) return;
    const delay = this.nextDelay();
    this.logger.warn("watch failed; restarting", { event: "watch-failed", resource: this.name, error: String(error), retryInMs: delay });
    clearTimeout(this.restartTimer);
    this.restartTimer = setTimeout(() => {
      this.informer.start().catch((restartError: unknown) => this.restartLater(restartError));
    }, delay);
  }
}

import type * as k8s from "@kubernetes/client-node";
import type { Logger } from "@org/task-core";
import { isConflict, isNotFound } from "./kube/client.js";

export const LEASE_NAME = "task-controller";

export interface LeaderElectionOptions {
  coordination: k8s.CoordinationV1Api;
  namespace: string;
  identity: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  logger: Logger;
}

/** Kubernetes MicroTime: RFC 3339 with microseconds. */
function microTime(date: Date): string {
  return date.toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}

/**
 * Leader election on a coordination.k8s.io Lease, as kube-controller-manager does it: a candidate takes the
 * lease when its holder has not renewed it for the lease duration (measured on this replica's clock, from the
 * moment it saw the record change, so clock skew between replicas does not matter); the leader renews every
 * retry period and stops leading when it could not renew within the renew deadline.
 */
export class LeaderElector {
  private observedRecord = "";
  private observedAtMs = 0;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  leading = false;

  constructor(private readonly options: LeaderElectionOptions) {}

  /** Resolves once this replica leads; `onLost` is called if it stops leading afterwards. */
  async acquire(onLost: () => void): Promise<void> {
    for (;;) {
      if (this.stopped) throw new Error("leader election stopped");
      if (await this.tryAcquireOrRenew()) break;
      await this.sleep(this.options.retryPeriodMs);
    }
    this.leading = true;
    this.options.logger.info("leading", { event: "leader-elected", lease: `${this.options.namespace}/${LEASE_NAME}`, identity: this.options.identity });
    let lastRenewMs = Date.now();
    const renew = async () => {
      if (this.stopped) return;
      if (await this.tryAcquireOrRenew()) lastRenewMs = Date.now();
      else if (Date.now() - lastRenewMs > this.options.renewDeadlineMs) {
        this.leading = false;
        this.options.logger.error("lost the lease: could not renew it within the renew deadline", { event: "lease-lost", renewDeadlineMs: this.options.renewDeadlineMs });
        onLost();
        return;
      }
      this.timer = setTimeout(() => void renew(), this.options.retryPeriodMs);
    };
    this.timer = setTimeout(() => void renew(), this.options.retryPeriodMs);
  }

  /** Stops renewing and, when leading, releases the lease so a standby takes over at once. */
  async release(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    if (!this.leading) return;
    this.leading = false;
    try {
      const lease = await this.read();
      if (lease?.spec?.holderIdentity !== this.options.identity) return;
      await this.options.coordination.replaceNamespacedLease({
        name: LEASE_NAME,
        namespace: this.options.namespace,
        body: {
          ...lease,
          spec: {
            ...lease.spec,
            holderIdentity: "",
            leaseDurationSeconds: 1,
            renewTime: microTime(new Date()) as unknown as Date,
            ...(lease.spec.acquireTime ? { acquireTime: microTime(new Date(lease.spec.acquireTime)) as unknown as Date } : {}),
          },
        },
      });
    } catch (error) {
      this.options.logger.warn("could not release the lease", { event: "lease-release-failed", error: String(error) });
    }
  }

  private async read(): Promise<k8s.V1Lease | undefined> {
    try {
      return await this.options.coordination.readNamespacedLease({ name: LEASE_NAME, namespace: this.options.namespace });
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const { coordination, namespace, identity } = this.options;
    const now = new Date();
    const durationSeconds = Math.max(1, Math.round(this.options.leaseDurationMs / 1000));
    try {
      const lease = await this.read();
      if (!lease) {
        await coordination.createNamespacedLease({
          namespace,
          body: {
            metadata: { name: LEASE_NAME, namespace },
            spec: {
              holderIdentity: identity,
              leaseDurationSeconds: durationSeconds,
              acquireTime: microTime(now) as unknown as Date,
              renewTime: microTime(now) as unknown as Date,
              leaseTransitions: 0,
            },
          },
        });
        this.observe(identity, now);
        return true;
      }
      const spec = lease.spec ?? {};
      const record = JSON.stringify([spec.holderIdentity, spec.renewTime, spec.leaseDurationSeconds]);
      if (record !== this.observedRecord) {
        this.observedRecord = record;
        this.observedAtMs = now.getTime();
      }
      const holder = spec.holderIdentity ?? "";
      const heldByOther = holder !== "" && holder !== identity;
      const validForMs = (spec.leaseDurationSeconds ?? durationSeconds) * 1000;
      if (heldByOther && this.observedAtMs + validForMs > now.getTime()) return false;
      const mine = holder === identity;
      const renewed = await coordination.replaceNamespacedLease({
        name: LEASE_NAME,
        namespace,
        body: {
          ...lease,
          spec: {
            ...spec,
            holderIdentity: identity,
            leaseDurationSeconds: durationSeconds,
            renewTime: microTime(now) as unknown as Date,
            // Dates read back are re-sent as MicroTime text; the API server refuses millisecond precision here.
            acquireTime: microTime(mine && spec.acquireTime ? new Date(spec.acquireTime) : now) as unknown as Date,
            ...(mine ? {} : { leaseTransitions: (spec.leaseTransitions ?? 0) + 1 }),
          },
        },
      });
      this.observe(identity, now, renewed);
      return true;
    } catch (error) {
      if (!isConflict(error)) this.options.logger.warn("lease update failed", { event: "lease-update-failed", error: String(error) });
      return false;
    }
  }

  private observe(identity: string, now: Date, lease?: k8s.V1Lease): void {
    const spec = lease?.spec;
    this.observedRecord = JSON.stringify([identity, spec?.renewTime, spec?.leaseDurationSeconds]);
    this.observedAtMs = now.getTime();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.timer = setTimeout(resolve, ms);
    });
  }
}

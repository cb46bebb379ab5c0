import type * as k8s from "@kubernetes/client-node";
import type { Logger } from "@org/task-core";

export interface EventTarget {
  apiVersion: string;
  kind: string;
  metadata: { name?: string; namespace?: string; uid?: string; resourceVersion?: string };
}

/**
 * Records Kubernetes Events on objects, as `kubectl describe` shows them. Recording never fails a reconcile:
 * a refused Event is logged and dropped.
 */
export class EventRecorder {
  constructor(
    private readonly core: k8s.CoreV1Api,
    private readonly component: string,
    private readonly logger: Logger,
  ) {}

  normal(target: EventTarget, reason: string, message: string): void {
    this.record(target, "Normal", reason, message);
  }

  warning(target: EventTarget, reason: string, message: string): void {
    this.record(target, "Warning", reason, message);
  }

  private record(target: EventTarget, type: "Normal" | "Warning", reason: string, message: string): void {
    const namespace = target.metadata.namespace ?? "default";
    const now = new Date();
    const body: k8s.CoreV1Event = {
      metadata: { generateName: `${target.metadata.name ?? "object"}.`, namespace },
      involvedObject: {
        apiVersion: target.apiVersion,
        kind: target.kind,
        name: target.metadata.name,
        namespace,
        uid: target.metadata.uid,
      },
      type,
      reason,
      message: message.slice(0, 1024),
      source: { component: this.component },
      reportingComponent: this.component,
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
    };
    this.core.createNamespacedEvent({ namespace, body }).catch((error: unknown) => {
      const subject = target.kind === "Task" ? "task" : target.kind === "TaskSchedule" ? "schedule" : "object";
      this.logger.warn("event not recorded", { event: "event-not-recorded", reason, [subject]: `${namespace}/${target.metadata.name}`, error: String(error) });
    });
  }
}

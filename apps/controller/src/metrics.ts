import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

/** The controller's Prometheus metrics (bounded label sets: no object names as labels). */
export class ControllerMetrics {
  readonly registry = new Registry();
  readonly reconciles = new Counter({ name: "task_controller_reconciles_total", help: "Reconciles by kind and result", labelNames: ["kind", "result"] as const, registers: [this.registry] });
  readonly reconcileSeconds = new Histogram({ name: "task_controller_reconcile_duration_seconds", help: "Reconcile latency by kind", labelNames: ["kind"] as const, buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5], registers: [this.registry] });
  readonly queueDepth = new Gauge({ name: "task_controller_work_queue_depth", help: "Keys waiting in the work queue by kind", labelNames: ["kind"] as const, registers: [this.registry] });
  readonly placements = new Counter({ name: "task_controller_placements_total", help: "Tasks placed on an executor", registers: [this.registry] });
  readonly retired = new Counter({ name: "task_controller_retention_deletions_total", help: "Tasks deleted by retention", registers: [this.registry] });
  readonly executors = new Gauge({ name: "task_controller_executors", help: "Executor pods by reachability", labelNames: ["state"] as const, registers: [this.registry] });
  readonly tasksByPhase = new Gauge({ name: "task_controller_tasks", help: "Tasks in the cache by phase", labelNames: ["phase"] as const, registers: [this.registry] });
  readonly leader = new Gauge({ name: "task_controller_leader", help: "1 while this replica leads", registers: [this.registry] });

  constructor() {
    // prom-client samples event-loop delay every 10 ms by default (100 wake-ups a second); twice a second will do.
    collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 500 });
  }
}

import type { RequestHandler } from "express";
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { phaseOf, type TaskEvent } from "@org/task-core";
import type { EventHub } from "../manager/event-hub.js";
import type { TaskManager } from "../manager/task-manager.js";

/**
 * Prometheus metrics at `GET /metrics`: tasks by phase (read from the manager at scrape time), task events and
 * finishes by reason (from the change feed), and request latency by route.
 */
export function createMetrics(manager: TaskManager, hub: EventHub): { measure: RequestHandler; serve: RequestHandler } {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "task_executor_process_" });
  new Gauge({
    name: "task_executor_tasks",
    help: "Tasks the executor manages, by phase",
    labelNames: ["phase"],
    registers: [registry],
    collect() {
      const counts = { waiting: 0, running: 0, terminated: 0 };
      for (const record of manager.records()) counts[phaseOf(record.state)]++;
      for (const [phase, count] of Object.entries(counts)) this.set({ phase }, count);
    },
  });
  const events = new Counter({ name: "task_executor_task_events_total", help: "Task events by type", labelNames: ["type"], registers: [registry] });
  const finished = new Counter({ name: "task_executor_tasks_finished_total", help: "Finished tasks by terminated reason", labelNames: ["reason"], registers: [registry] });
  const latency = new Histogram({
    name: "task_executor_http_request_duration_seconds",
    help: "HTTP request latency by method, route and status",
    labelNames: ["method", "route", "status"],
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
    registers: [registry],
  });
  hub.subscribe((event: TaskEvent) => {
    events.inc({ type: event.type });
    const state = event.task?.status.state;
    if (event.type === "terminated" && state && "terminated" in state) finished.inc({ reason: state.terminated.reason });
  });

  const measure: RequestHandler = (request, response, next) => {
    const stop = latency.startTimer();
    response.on("finish", () => {
      // The matched route pattern, never the raw path, so task names do not explode the label set.
      const route = (request.route?.path as string | undefined) ?? "unmatched";
      stop({ method: request.method, route, status: String(response.statusCode) });
    });
    next();
  };
  const serve: RequestHandler = (_request, response, next) => {
    registry.metrics().then((text) => {
      response.setHeader("content-type", registry.contentType);
      response.send(text);
    }, next);
  };
  return { measure, serve };
}

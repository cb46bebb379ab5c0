import { statSync } from "node:fs";
import type { RequestHandler } from "express";
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { phaseOf, type LogFile, type TaskEvent } from "@org/task-core";
import type { EventHub } from "../manager/event-hub.js";
import type { TaskManager } from "../manager/task-manager.js";

/** Seconds between two RFC 3339 times, or undefined when one is missing or the order is impossible. */
function secondsBetween(from: string | undefined, to: string | undefined): number | undefined {
  const seconds = (Date.parse(to ?? "") - Date.parse(from ?? "")) / 1000;
  return Number.isFinite(seconds) && seconds >= 0 ? seconds : undefined;
}

/**
 * The bytes in a task's log files. Synchronous and without an error for a missing file (most are: a stream that
 * wrote nothing has no file, and few tasks rotate): a promise-based stat per file cost a thread-pool trip, and a
 * missing one an exception with its stack, for every task that ended.
 */
function fileBytes(files: LogFile[]): number {
  let bytes = 0;
  for (const file of files) {
    for (const path of [file.path, file.rotatedPath]) {
      try {
        bytes += statSync(path, { throwIfNoEntry: false })?.size ?? 0;
      } catch {
        // unreadable (a permission, an I/O error): counted as empty
      }
    }
  }
  return bytes;
}

/**
 * Prometheus metrics at `GET /metrics`. Label sets are bounded: phases, event types, reasons, store operations,
 * methods, route patterns and status codes; never task names. Created first (server.ts) so the store can be timed.
 */
export class ExecutorMetrics {
  readonly registry = new Registry();
  /** Observed through the store's observer (server.ts). */
  readonly storeDuration = new Histogram({
    name: "task_executor_store_operation_duration_seconds",
    help: "Duration of data dir writes (create, save, remove of a task; each until its journal commit is durable, waiting for the commit before it included)",
    labelNames: ["op", "result"],
    buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
    registers: [this.registry],
  });
  readonly storeFsyncDuration = new Histogram({
    name: "task_executor_store_fsync_duration_seconds",
    help: "Duration of each flush to the data dir's disk (a journal commit's fdatasync, a data dir entry, a snapshot's file and directory)",
    buckets: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1],
    registers: [this.registry],
  });
  private readonly httpRequests = new Counter({
    name: "task_executor_http_requests_total",
    help: "HTTP requests by method, route pattern and status code",
    labelNames: ["method", "route", "code"],
    registers: [this.registry],
  });
  private readonly httpDuration = new Histogram({
    name: "task_executor_http_request_duration_seconds",
    help: "HTTP request latency by method, route pattern and status code",
    labelNames: ["method", "route", "code"],
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
    registers: [this.registry],
  });

  constructor() {
    // prom-client samples event-loop delay every 10 ms by default: 100 wake-ups a second of an idle process.
    // Twice a second is plenty for a lag metric and keeps an idle executor idle.
    collectDefaultMetrics({ register: this.registry, prefix: "task_executor_process_", eventLoopMonitoringPrecision: 500 });
  }

  /** Task metrics: counts read from the manager at scrape time, the rest from the change feed. */
  observeTasks(manager: TaskManager, hub: EventHub): void {
    const registers = [this.registry];
    // One pass over the tasks per scrape fills both gauges: prom-client collects in registration order, so the
    // queue gauge, registered second, is read after the tasks gauge has set it.
    let queueLength: Gauge | undefined;
    new Gauge({
      name: "task_executor_tasks",
      help: "Tasks the executor manages, by phase",
      labelNames: ["phase"],
      registers,
      collect() {
        const counts = { waiting: 0, running: 0, terminated: 0 };
        for (const record of manager.records()) counts[phaseOf(record.state)]++;
        for (const [phase, count] of Object.entries(counts)) this.set({ phase }, count);
        queueLength?.set(counts.waiting);
      },
    });
    queueLength = new Gauge({
      name: "task_executor_queue_length",
      help: "Tasks waiting to start (Initialized or Queued behind --max-concurrent-tasks)",
      registers,
    });
    const events = new Counter({ name: "task_executor_task_events_total", help: "Task events by type", labelNames: ["type"], registers });
    const starts = new Counter({ name: "task_executor_task_starts_total", help: "Tasks that started running", registers });
    const finished = new Counter({ name: "task_executor_tasks_finished_total", help: "Finished tasks by terminated reason", labelNames: ["reason"], registers });
    const buckets = [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 60, 300, 1800, 3600];
    const startLatency = new Histogram({ name: "task_executor_task_start_latency_seconds", help: "From a task's creation to its running state", buckets, registers });
    const runDuration = new Histogram({ name: "task_executor_task_run_duration_seconds", help: "From a task's start to its end (tasks that started)", buckets, registers });
    const logBytes = new Counter({
      name: "task_executor_task_log_bytes_total",
      help: "Bytes in the log files (CRI format, with each line's time and stream prefix; current and rotated file) of each task as it terminated",
      registers,
    });
    hub.subscribe((event: TaskEvent) => {
      events.inc({ type: event.type });
      const task = event.task;
      const state = task?.status.state;
      if (!task || !state) return;
      if (event.type === "started" && "running" in state) {
        starts.inc();
        const seconds = secondsBetween(task.creationTimestamp, state.running.startedAt);
        if (seconds !== undefined) startLatency.observe(seconds);
      }
      if (event.type === "terminated" && "terminated" in state) {
        finished.inc({ reason: state.terminated.reason });
        const seconds = secondsBetween(state.terminated.startedAt, state.terminated.finishedAt);
        if (seconds !== undefined) runDuration.observe(seconds);
        // The sizes at the end are the task's whole output (the logs are written only while it runs).
        let files: LogFile[] = [];
        try {
          const view = manager.runtimeView(task.name);
          files = view.runtime.logFiles(view.task);
        } catch {
          return; // already removed: its output is gone uncounted
        }
        logBytes.inc(fileBytes(files));
      }
    });
  }

  /** One finished request (the access log's listener reports it, so a request is timed once). */
  observeRequest(labels: { method: string; route: string; code: string }, seconds: number): void {
    this.httpDuration.observe(labels, seconds);
    this.httpRequests.inc(labels);
  }

  readonly serve: RequestHandler = (_request, response, next) => {
    this.registry.metrics().then((text) => {
      response.setHeader("content-type", this.registry.contentType);
      response.send(text);
    }, next);
  };
}

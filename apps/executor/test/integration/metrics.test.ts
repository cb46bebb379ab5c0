import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startExecutor, waitFor, type ExecutorProcess } from "@org/testkit";
import { raw, shTask, waitTerminated } from "./helpers.js";

/** `name{labels} value` lines of a Prometheus text exposition, as [series, value]. */
function samples(text: string): Map<string, number> {
  const found = new Map<string, number>();
  for (const line of text.split("\n")) {
    const match = /^([a-z_:][a-z0-9_:]*(?:\{[^}]*\})?) (\S+)$/i.exec(line);
    if (match) found.set(match[1]!, Number(match[2]));
  }
  return found;
}

describe("GET /metrics after tasks ran", () => {
  let executor: ExecutorProcess;
  let metrics: Map<string, number>;
  let text: string;
  const value = (series: string) => {
    expect(metrics.has(series), `${series} in\n${text}`).toBe(true);
    return metrics.get(series)!;
  };

  beforeAll(async () => {
    // One slot: the second task queues behind the first, so the queue is seen non-empty.
    executor = await startExecutor({ args: ["--max-concurrent-tasks=1"] });
    await executor.client.createTask(shTask("printer", "printf 'hello\\n'; sleep 1"));
    await executor.client.createTask(shTask("queued", "exit 3"));
    await waitFor(async () => "running" in (await executor.client.getTask("printer")).status.state);
    const queued = await samples((await raw(executor, "GET", "/metrics")).text);
    expect(queued.get("task_executor_queue_length")).toBe(1);
    await waitTerminated(executor, "printer");
    await waitTerminated(executor, "queued");
    await raw(executor, "GET", "/tasks/unknown");
    // The counters follow the end in the same tick as its event, which may come just after the reply.
    text = await waitFor(async () => {
      const scraped = (await raw(executor, "GET", "/metrics")).text;
      return /^task_executor_task_log_bytes_total [1-9]/m.test(scraped) && /reason="Failed"\} 1$/m.test(scraped) ? scraped : undefined;
    });
    metrics = samples(text);
  });
  afterAll(async () => {
    await executor.kill();
  });

  it("tasks by phase, the queue, starts and finishes by reason", () => {
    expect(value('task_executor_tasks{phase="terminated"}')).toBe(2);
    expect(value('task_executor_tasks{phase="running"}')).toBe(0);
    expect(value("task_executor_queue_length")).toBe(0);
    expect(value("task_executor_task_starts_total")).toBe(2);
    expect(value('task_executor_tasks_finished_total{reason="Succeeded"}')).toBe(1);
    expect(value('task_executor_tasks_finished_total{reason="Failed"}')).toBe(1);
  });

  it("start latency and run duration histograms (the queued task waited for the first one's 1 s)", () => {
    expect(value("task_executor_task_start_latency_seconds_count")).toBe(2);
    expect(value("task_executor_task_start_latency_seconds_sum")).toBeGreaterThanOrEqual(1);
    expect(value("task_executor_task_run_duration_seconds_count")).toBe(2);
    expect(value("task_executor_task_run_duration_seconds_sum")).toBeGreaterThanOrEqual(1);
    expect(value('task_executor_task_run_duration_seconds_bucket{le="+Inf"}')).toBe(2);
  });

  it("log bytes: the 6 bytes of output plus the CRI line prefix", () => {
    const bytes = value("task_executor_task_log_bytes_total");
    expect(bytes).toBeGreaterThan("hello\n".length);
    expect(bytes).toBeLessThan(200);
  });

  it("store write and fsync latency", () => {
    expect(value('task_executor_store_operation_duration_seconds_count{op="create",result="ok"}')).toBe(2);
    expect(value('task_executor_store_operation_duration_seconds_count{op="save",result="ok"}')).toBeGreaterThanOrEqual(4);
    expect(value('task_executor_store_operation_duration_seconds_sum{op="save",result="ok"}')).toBeGreaterThan(0);
    // Each create flushes its journal line and the new directory's entry in the data dir (two creates one after
    // the other share no commit): at least two per task.
    expect(value("task_executor_store_fsync_duration_seconds_count")).toBeGreaterThanOrEqual(4);
    expect(value("task_executor_store_fsync_duration_seconds_sum")).toBeGreaterThan(0);
  });

  it("HTTP requests by method, route pattern and code, with latency; no task name in any label", () => {
    expect(value('task_executor_http_requests_total{method="POST",route="/tasks",code="201"}')).toBe(2);
    expect(value('task_executor_http_requests_total{method="GET",route="/tasks/:name",code="404"}')).toBe(1);
    expect(value('task_executor_http_request_duration_seconds_count{method="POST",route="/tasks",code="201"}')).toBe(2);
    expect(text).not.toMatch(/printer|queued|unknown/);
  });

  it("names follow the conventions: units as suffixes, _total on counters", () => {
    const types = [...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((match) => [match[1]!, match[2]!] as const);
    const ours = types.filter(([name]) => name.startsWith("task_executor_") && !name.startsWith("task_executor_process_"));
    expect(ours.length).toBeGreaterThanOrEqual(11);
    for (const [name, type] of ours) {
      if (type === "counter") expect(name).toMatch(/_total$/);
      if (type === "histogram") expect(name).toMatch(/_seconds$/);
    }
  });
});

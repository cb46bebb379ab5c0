import * as k8s from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import type { TaskResource } from "@org/task-api";
import { silentLogger } from "@org/task-core";
import { TASKS_BY_EXECUTOR, UNFINISHED_TASKS_BY_EXECUTOR, indexTasks } from "../../src/facts.js";
import { ObjectStore } from "../../src/kube/informers.js";

function task(name: string, resourceVersion: string, pod?: string, phase?: "Running" | "Succeeded"): TaskResource {
  return {
    apiVersion: "tasks.org.dev/v1alpha1",
    kind: "Task",
    metadata: { name, namespace: "ns", resourceVersion },
    spec: { process: { command: ["true"] }, terminated: false, backoffLimit: 0 },
    ...(pod ? { status: { ...(phase ? { phase } : {}), executor: { pod, taskName: `ns.${name}` } } } : {}),
  } as TaskResource;
}

function store(): ObjectStore<TaskResource> {
  const config = new k8s.KubeConfig();
  config.loadFromOptions({ clusters: [{ name: "c", server: "http://127.0.0.1:1" }], users: [{ name: "u" }], contexts: [{ name: "x", cluster: "c", user: "u" }], currentContext: "x" });
  const tasks = new ObjectStore<TaskResource>(config, "tasks", "/apis/tasks.org.dev/v1alpha1/tasks", async () => ({ items: [] }), silentLogger);
  indexTasks(tasks);
  return tasks;
}

const names = (tasks: TaskResource[]) => tasks.map((t) => t.metadata.name).sort();

describe("Task cache indexes by executor pod", () => {
  it("follow placement, finishing and removal", () => {
    const tasks = store();
    tasks.apply(task("a", "1"));
    tasks.apply(task("b", "1", "exec-1", "Running"));
    tasks.apply(task("c", "1", "exec-1", "Succeeded"));
    expect(names(tasks.byIndex(TASKS_BY_EXECUTOR, "ns/exec-1"))).toEqual(["b", "c"]);
    expect(tasks.indexCounts(UNFINISHED_TASKS_BY_EXECUTOR)).toEqual(new Map([["ns/exec-1", 1]]));

    tasks.apply(task("a", "2", "exec-2", "Running")); // placed
    tasks.apply(task("b", "2", "exec-1", "Succeeded")); // finished
    expect(names(tasks.byIndex(TASKS_BY_EXECUTOR, "ns/exec-2"))).toEqual(["a"]);
    expect(tasks.indexCounts(UNFINISHED_TASKS_BY_EXECUTOR)).toEqual(new Map([["ns/exec-2", 1]]));

    tasks.apply(task("a", "1", "exec-9", "Running")); // an older version changes nothing
    expect(names(tasks.byIndex(TASKS_BY_EXECUTOR, "ns/exec-9"))).toEqual([]);
    expect(names(tasks.byIndex(TASKS_BY_EXECUTOR, "ns/exec-2"))).toEqual(["a"]);
  });
});

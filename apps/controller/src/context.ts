import type * as k8s from "@kubernetes/client-node";
import type { TaskResource, TaskScheduleResource } from "@org/task-api";
import type { Logger } from "@org/task-core";
import type { Config } from "./config.js";
import type { ExecutorPool } from "./executors/pool.js";
import type { KubeApi } from "./kube/client.js";
import type { EventRecorder } from "./kube/events.js";
import type { ObjectStore } from "./kube/informers.js";
import type { ControllerMetrics } from "./metrics.js";

/** Everything a reconciler reads and acts through. */
export interface ControllerContext {
  config: Config;
  api: KubeApi;
  recorder: EventRecorder;
  logger: Logger;
  tasks: ObjectStore<TaskResource>;
  schedules: ObjectStore<TaskScheduleResource>;
  pods: ObjectStore<k8s.V1Pod>;
  pool: ExecutorPool;
  metrics: ControllerMetrics;
  /** When this controller started leading: executors get a full lost-timeout from then. */
  leadingSinceMs: number;
  /** Placements written but not yet in the cache, counted as load of their executor. */
  placing: Map<string, string>;
}

import * as k8s from "@kubernetes/client-node";
import {
  EXECUTOR_LABEL,
  TASK_GROUP,
  TASK_PLURAL,
  TASK_SCHEDULE_KIND,
  TASK_SCHEDULE_PLURAL,
  TASK_VERSION,
  TaskPhases,
  isFinishedPhase,
  type TaskResource,
  type TaskScheduleResource,
} from "@org/task-api";
import { isTerminal, type Logger } from "@org/task-core";
import type { Config } from "./config.js";
import type { ControllerContext } from "./context.js";
import { ExecutorPool } from "./executors/pool.js";
import { TASKS_BY_EXECUTOR, executorFacts, indexTasks, placementPodKey } from "./facts.js";
import type { KubeApi } from "./kube/client.js";
import { EventRecorder } from "./kube/events.js";
import { ObjectStore, keyOf } from "./kube/informers.js";
import { ReconcileLog } from "./log-fields.js";
import type { ControllerMetrics } from "./metrics.js";
import { executorLoss } from "./policy/executor-loss.js";
import { WorkQueue, runWorkers } from "./queue.js";
import { ScheduleReconciler } from "./reconcile/schedule.js";
import { TaskReconciler } from "./reconcile/task.js";
import { TaskRetention } from "./retention.js";

function resourcePath(plural: string, namespace: string | undefined): string {
  return namespace ? `/apis/${TASK_GROUP}/${TASK_VERSION}/namespaces/${namespace}/${plural}` : `/apis/${TASK_GROUP}/${TASK_VERSION}/${plural}`;
}

/**
 * The controller while it leads: informers for Tasks, TaskSchedules and executor Pods feed two work queues;
 * workers run the reconcilers; the executor pool follows every executor pod. Nothing is decided before all
 * informers have synced.
 */
export class Controller {
  private readonly context: ControllerContext;
  private readonly taskQueue = new WorkQueue();
  private readonly scheduleQueue = new WorkQueue();
  private readonly tasks: TaskReconciler;
  private readonly schedules: ScheduleReconciler;
  private readonly retention: TaskRetention;
  private readonly reconciles: ReconcileLog;
  /** Executor-side task name → Task key, for routing executor reports to their Task. */
  private readonly byExecutorName = new Map<string, string>();
  private resyncTimer: NodeJS.Timeout | undefined;
  private lossTimer: NodeJS.Timeout | undefined;
  private workers: Promise<void>[] = [];
  synced = false;

  constructor(config: Config, api: KubeApi, logger: Logger, metrics: ControllerMetrics, executorToken: () => string | undefined) {
    const podNamespace = config.executorNamespace ?? config.namespace;
    const pods = new ObjectStore<k8s.V1Pod>(
      api.config,
      "pods",
      podNamespace ? `/api/v1/namespaces/${podNamespace}/pods` : "/api/v1/pods",
      () => (podNamespace ? api.core.listNamespacedPod({ namespace: podNamespace, labelSelector: `${EXECUTOR_LABEL}=true` }) : api.core.listPodForAllNamespaces({ labelSelector: `${EXECUTOR_LABEL}=true` })),
      logger,
      `${EXECUTOR_LABEL}=true`,
    );
    const tasks = new ObjectStore<TaskResource>(api.config, "tasks", resourcePath(TASK_PLURAL, config.namespace), () => api.listTasks(config.namespace), logger);
    indexTasks(tasks);
    const schedules = new ObjectStore<TaskScheduleResource>(api.config, "taskschedules", resourcePath(TASK_SCHEDULE_PLURAL, config.namespace), () => api.listSchedules(config.namespace), logger);
    const pool = new ExecutorPool({
      token: executorToken,
      logger,
      onTasksChanged: (podKey, names) => {
        const observed = this.context.pool.get(podKey)?.observed;
        for (const name of names) {
          const key = this.byExecutorName.get(name);
          // A task's end goes ahead of placements and other work: it is what users and schedules wait for.
          if (key) this.taskQueue.add(key, { urgent: observed?.get(name) !== undefined && isTerminal(observed.get(name)!.status.state) });
        }
      },
      onExecutorChanged: (podKey) => this.enqueueForExecutor(podKey),
      desiredSet: (podKey) => (this.synced ? this.tasks.desiredSet(podKey) : undefined),
    });
    this.context = {
      config,
      api,
      logger,
      metrics,
      tasks,
      schedules,
      pods,
      pool,
      recorder: new EventRecorder(api.core, "task-controller", logger),
      leadingSinceMs: Date.now(),
      placing: new Map(),
    };
    this.tasks = new TaskReconciler(this.context);
    this.schedules = new ScheduleReconciler(this.context);
    this.retention = new TaskRetention(this.context);
    this.reconciles = new ReconcileLog(logger, metrics);

    tasks.onChange((key, task, previous) => this.taskChanged(key, task, previous));
    schedules.onChange((key) => this.scheduleQueue.add(key));
    pods.onChange((key, pod) => {
      pool.syncPod(key, pod);
      this.enqueueForExecutor(key);
    });
  }

  /** Syncs the informers, then starts the workers. */
  async start(): Promise<void> {
    const { tasks, schedules, pods } = this.context;
    await Promise.all([pods.start(), tasks.start(), schedules.start()]);
    this.context.leadingSinceMs = Date.now();
    this.synced = true;
    this.context.logger.info("informers synced", { event: "informers-synced", tasks: tasks.list().length, schedules: schedules.list().length, executors: pods.list().length });
    for (const task of tasks.list()) this.taskQueue.add(keyOf(task));
    for (const schedule of schedules.list()) this.scheduleQueue.add(keyOf(schedule));
    for (const connection of this.context.pool.all()) void connection.requestPush();
    this.retention.trigger();
    const { workers } = this.context.config;
    this.workers = [
      runWorkers(this.taskQueue, workers, (key) => this.reconciles.run("task", key, () => this.tasks.reconcile(key)), (key, error, retry, durationMs) => this.reconciles.failed("task", key, error, retry, durationMs)),
      runWorkers(this.scheduleQueue, 2, (key) => this.reconciles.run("schedule", key, () => this.schedules.reconcile(key)), (key, error, retry, durationMs) => this.reconciles.failed("schedule", key, error, retry, durationMs)),
    ];
    this.resyncTimer = setInterval(() => this.resync(), this.context.config.resyncPeriodMs);
    this.resyncTimer.unref();
    this.lossTimer = setInterval(() => this.checkExecutors(), 1_000);
    this.lossTimer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.resyncTimer);
    clearInterval(this.lossTimer);
    this.retention.stop();
    this.taskQueue.shutDown();
    this.scheduleQueue.shutDown();
    this.context.pool.close();
    await Promise.all([this.context.tasks.stop(), this.context.schedules.stop(), this.context.pods.stop()]);
    await Promise.all(this.workers);
  }

  /** The API server answered a list or watch within the last `withinMs`. */
  apiReachable(withinMs: number): boolean {
    const last = Math.max(this.context.tasks.lastContactMs, this.context.pods.lastContactMs, this.context.schedules.lastContactMs);
    return Date.now() - last <= withinMs;
  }

  private taskChanged(key: string, task: TaskResource | undefined, previous: TaskResource | undefined): void {
    const oldName = previous?.status?.executor?.taskName;
    const newName = task?.status?.executor?.taskName;
    if (oldName && oldName !== newName) this.byExecutorName.delete(oldName);
    if (newName) this.byExecutorName.set(newName, key);
    this.taskQueue.add(key);
    const owner = (task ?? previous)?.metadata.ownerReferences?.find((ref) => ref.kind === TASK_SCHEDULE_KIND);
    if (owner) this.scheduleQueue.add(`${(task ?? previous)!.metadata.namespace}/${owner.name}`);
    if (!task || isFinishedPhase(task.status?.phase) !== isFinishedPhase(previous?.status?.phase) || !previous) this.retention.trigger();
    // A Task that left an executor (deleted, finished and gone, placed elsewhere): that executor's set changed.
    const previousPod = previous ? placementPodKey(previous) : undefined;
    if (previousPod && (!task || placementPodKey(task) !== previousPod || task.metadata.deletionTimestamp)) {
      void this.context.pool.get(previousPod)?.requestPush();
    }
  }

  /** Everything an executor change may decide: its Tasks (loss), and every unplaced Task (placement). */
  private enqueueForExecutor(podKey: string): void {
    for (const task of this.context.tasks.byIndex(TASKS_BY_EXECUTOR, podKey)) this.taskQueue.add(keyOf(task));
    for (const task of this.context.tasks.list()) {
      if (!placementPodKey(task) && !isFinishedPhase(task.status?.phase)) this.taskQueue.add(keyOf(task));
    }
  }

  private resync(): void {
    for (const task of this.context.tasks.list()) this.taskQueue.add(keyOf(task));
    for (const schedule of this.context.schedules.list()) this.scheduleQueue.add(keyOf(schedule));
    for (const connection of this.context.pool.all()) void connection.requestPush();
    this.retention.trigger();
  }

  /** Loss is a matter of time passing: every second, the Tasks of executors that are lost now are reconciled. */
  private checkExecutors(): void {
    const { metrics, pool, config } = this.context;
    const now = Date.now();
    for (const podKey of this.context.tasks.indexCounts(TASKS_BY_EXECUTOR).keys()) {
      for (const task of this.context.tasks.byIndex(TASKS_BY_EXECUTOR, podKey)) {
        if (isFinishedPhase(task.status?.phase) && !task.metadata.deletionTimestamp) continue;
        const verdict = executorLoss(executorFacts(this.context, podKey, task.status?.executor?.podUID), now, config.executorLostTimeoutMs);
        if (verdict.lost || task.metadata.deletionTimestamp) this.taskQueue.add(keyOf(task));
      }
    }
    const answering = pool.all().filter((connection) => now - connection.lastContactMs <= config.executorLostTimeoutMs).length;
    metrics.executors.set({ state: "reachable" }, answering);
    metrics.executors.set({ state: "unreachable" }, pool.all().length - answering);
    metrics.queueDepth.set({ kind: "task" }, this.taskQueue.length);
    metrics.queueDepth.set({ kind: "schedule" }, this.scheduleQueue.length);
    const phases = new Map<string, number>(TaskPhases.map((phase) => [phase, 0]));
    for (const task of this.context.tasks.list()) {
      const phase = task.status?.phase ?? "Pending";
      phases.set(phase, (phases.get(phase) ?? 0) + 1);
    }
    for (const [phase, count] of phases) metrics.tasksByPhase.set({ phase }, count);
  }
}

import { selectRetirements, type RetentionCandidate } from "@org/retention";
import { APP_LABEL, isFinishedPhase, type TaskResource } from "@org/task-api";
import type { ControllerContext } from "./context.js";
import { isNotFound } from "./kube/client.js";
import { since } from "./log-fields.js";
import { keyOf, splitKey } from "./kube/informers.js";

/** The retention group of a Task: its namespace and app (label app.kubernetes.io/name); no app is one group per namespace. */
export function retentionGroup(task: TaskResource): string {
  return `${task.metadata.namespace ?? ""}/${task.metadata.labels?.[APP_LABEL] ?? ""}`;
}

/** The Task as @org/retention sees it: keyed by namespace/name, created and finished times in ms. */
export function retentionCandidate(task: TaskResource): RetentionCandidate {
  const finished = isFinishedPhase(task.status?.phase);
  const finishedAt = finished ? Date.parse(task.status?.completionTime ?? task.metadata.creationTimestamp ?? "") : undefined;
  return {
    name: keyOf(task),
    group: retentionGroup(task),
    createdAt: Date.parse(task.metadata.creationTimestamp ?? "") || 0,
    ...(finished ? { finishedAt: Number.isFinite(finishedAt) ? finishedAt! : 0 } : {}),
    protected: false,
    bytes: 0,
  };
}

/** Which Tasks retention deletes now: the executor's rule (packages/retention) over every Task not being deleted. Pure. */
export function tasksToRetire(tasks: readonly TaskResource[], keepPerGroup: number, nowMs: number): string[] {
  if (keepPerGroup === 0) return [];
  const live = tasks.filter((task) => !task.metadata.deletionTimestamp);
  return selectRetirements(live.map(retentionCandidate), { keepPerGroup }, nowMs).map((retirement) => retirement.name);
}

/** Deletes the Tasks beyond `--task-retention-count` per app; runs shortly after Tasks finish or are created. */
export class TaskRetention {
  private timer: NodeJS.Timeout | undefined;
  private running = false;

  constructor(private readonly context: ControllerContext) {}

  /** Asks for a pass soon; passes coalesce. */
  trigger(): void {
    if (this.timer || this.context.config.taskRetentionCount === 0) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.run();
    }, 500);
    this.timer.unref();
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private async run(): Promise<void> {
    if (this.running) return this.trigger();
    this.running = true;
    const started = performance.now();
    try {
      const retired = tasksToRetire(this.context.tasks.list(), this.context.config.taskRetentionCount, Date.now());
      for (const key of retired) {
        const { namespace, name } = splitKey(key);
        try {
          await this.context.api.deleteTask(namespace, name);
          this.context.metrics.retired.inc();
          this.context.logger.debug("retention deleted a Task", { event: "retired", task: key });
        } catch (error) {
          if (!isNotFound(error)) this.context.logger.warn("retention could not delete a Task", { event: "retention-delete-failed", task: key, error: String(error) });
        }
      }
      if (retired.length) this.context.logger.info("retention deleted Tasks", { event: "retention-deleted", count: retired.length, durationMs: since(started) });
    } finally {
      this.running = false;
    }
  }
}

import {
  SCHEDULE_LABEL,
  TASK_API_VERSION,
  TASK_KIND,
  TASK_SCHEDULE_KIND,
  TaskScheduleSpecSchema,
  isFinishedPhase,
  sameStatus,
  scheduledRunName,
  withCondition,
  type TaskResource,
  type TaskScheduleResource,
  type TaskScheduleStatus,
} from "@org/task-api";
import type { ControllerContext } from "../context.js";
import { isConflict, isNotFound, statusOf } from "../kube/client.js";
import { keyOf } from "../kube/informers.js";
import { kebab } from "../log-fields.js";
import { decideSchedule } from "../policy/schedule.js";
import type { ReconcileResult } from "./task.js";

/** The runs of a schedule: Tasks it owns (by UID). */
export function runsOf(context: ControllerContext, schedule: TaskScheduleResource): TaskResource[] {
  const uid = schedule.metadata.uid;
  return context.tasks
    .list()
    .filter((task) => task.metadata.namespace === schedule.metadata.namespace && task.metadata.ownerReferences?.some((owner) => owner.uid === uid));
}

/**
 * Reconciles one TaskSchedule: decides from the cron schedule, the last scheduled time and the active runs
 * (pure {@link decideSchedule}), creates the due run under a name derived from its scheduled time (so no run is
 * ever created twice), cancels replaced runs, and keeps `status` (active runs, last times, conditions).
 */
export class ScheduleReconciler {
  /** The scheduled time of the last run announced as waiting, per schedule (one Event per run, not per reconcile). */
  private readonly announcedWaits = new Map<string, number>();

  constructor(private readonly context: ControllerContext) {}

  async reconcile(key: string): Promise<ReconcileResult> {
    const schedule = this.context.schedules.get(key);
    if (!schedule || schedule.metadata.deletionTimestamp) return;
    const now = new Date();
    const status = schedule.status ?? {};
    const parsed = TaskScheduleSpecSchema.safeParse(schedule.spec);
    if (!parsed.success) {
      const message = parsed.error.issues.map((issue) => `${issue.path.join(".") || "spec"}: ${issue.message}`).join("; ");
      await this.writeStatus(schedule, { ...status, conditions: withCondition(status.conditions, { type: "Ready", status: "False", reason: "InvalidSpec", message, lastTransitionTime: now.toISOString() }) });
      return;
    }
    const spec = parsed.data;
    const runs = runsOf(this.context, schedule);
    const active = runs.filter((run) => !isFinishedPhase(run.status?.phase) && !run.metadata.deletionTimestamp);
    const lastScheduleMs = status.lastScheduleTime ? Date.parse(status.lastScheduleTime) : undefined;
    const action = decideSchedule({
      schedule: spec.schedule,
      timeZone: spec.timeZone,
      concurrencyPolicy: spec.concurrencyPolicy,
      suspend: spec.suspend,
      ...(spec.startingDeadlineSeconds !== undefined ? { startingDeadlineSeconds: spec.startingDeadlineSeconds } : {}),
      ...(lastScheduleMs !== undefined ? { lastScheduleMs } : {}),
      createdMs: Date.parse(schedule.metadata.creationTimestamp ?? now.toISOString()),
      activeRuns: active.length,
      nowMs: now.getTime(),
    });
    let lastScheduleTime = status.lastScheduleTime;
    let stillActive = active;
    if (action.kind === "run") {
      if (action.replaceActive) {
        for (const run of active) await this.cancel(run);
        stillActive = [];
      }
      const created = await this.createRun(schedule, action.scheduledMs);
      if (created) stillActive = [...stillActive, created];
      lastScheduleTime = new Date(action.scheduledMs).toISOString();
    } else if (action.kind === "forbidden" && this.announcedWaits.get(key) !== action.scheduledMs) {
      this.announcedWaits.set(key, action.scheduledMs);
      this.event(schedule, "normal", "RunSkipped", `run of ${new Date(action.scheduledMs).toISOString()} waits: concurrencyPolicy Forbid and ${active.length} run(s) active`);
    }
    const succeeded = runs
      .filter((run) => run.status?.phase === "Succeeded" && run.status.completionTime)
      .map((run) => run.status!.completionTime!)
      .sort();
    const lastSuccessfulTime = [status.lastSuccessfulTime, succeeded.at(-1)].filter((time): time is string => time !== undefined).sort().at(-1);
    const next: TaskScheduleStatus = {
      ...status,
      active: stillActive.map((run) => ({ name: run.metadata.name ?? "", ...(run.metadata.uid ? { uid: run.metadata.uid } : {}) })).sort((a, b) => (a.name < b.name ? -1 : 1)),
      ...(lastScheduleTime ? { lastScheduleTime } : {}),
      ...(lastSuccessfulTime ? { lastSuccessfulTime } : {}),
      observedGeneration: schedule.metadata.generation,
      conditions: withCondition(status.conditions, {
        type: "Ready",
        status: "True",
        reason: spec.suspend ? "Suspended" : "Scheduling",
        message: spec.suspend ? "suspended: no runs are created" : `${spec.schedule} (${spec.timeZone})`,
        lastTransitionTime: now.toISOString(),
      }),
    };
    if (!sameStatus({ ...status, active: status.active ?? [] }, { ...next, active: next.active ?? [] })) await this.writeStatus(schedule, next);
    return action.requeueAfterMs !== undefined ? { requeueAfterMs: action.requeueAfterMs + 5 } : undefined;
  }

  private async createRun(schedule: TaskScheduleResource, scheduledMs: number): Promise<TaskResource | undefined> {
    const namespace = schedule.metadata.namespace ?? "default";
    const name = scheduledRunName(schedule.metadata.name ?? "", scheduledMs);
    const template = schedule.spec.taskTemplate;
    const body: TaskResource = {
      apiVersion: TASK_API_VERSION,
      kind: TASK_KIND,
      metadata: {
        name,
        namespace,
        labels: { ...(template.metadata?.labels ?? {}), [SCHEDULE_LABEL]: schedule.metadata.name ?? "" },
        annotations: { [`${SCHEDULE_LABEL}-time`]: new Date(scheduledMs).toISOString() },
        ownerReferences: [
          {
            apiVersion: TASK_API_VERSION,
            kind: TASK_SCHEDULE_KIND,
            name: schedule.metadata.name ?? "",
            uid: schedule.metadata.uid ?? "",
            controller: true,
            blockOwnerDeletion: true,
          },
        ],
      },
      spec: template.spec,
    };
    try {
      const created = await this.context.api.createTask(namespace, body);
      this.context.tasks.apply(created);
      this.event(schedule, "normal", "RunCreated", `created Task ${name}`, { task: `${namespace}/${name}` });
      return created;
    } catch (error) {
      // The run of this time exists already (created before a restart): it is not created again.
      if (statusOf(error) === 409) return this.context.tasks.get(`${namespace}/${name}`);
      throw error;
    }
  }

  private async cancel(run: TaskResource): Promise<void> {
    if (run.spec.terminated) return;
    try {
      const updated = await this.context.api.patchTaskSpec(run.metadata.namespace ?? "", run.metadata.name ?? "", { terminated: true });
      this.context.tasks.apply(updated);
      this.event(run, "normal", "Replaced", "cancelled: its schedule started a newer run (concurrencyPolicy Replace)");
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }

  private async writeStatus(schedule: TaskScheduleResource, status: TaskScheduleStatus): Promise<void> {
    try {
      this.context.schedules.apply(await this.context.api.writeScheduleStatus(schedule, status));
    } catch (error) {
      if (isNotFound(error)) return;
      if (isConflict(error)) throw new Error(`TaskSchedule ${keyOf(schedule)} changed while it was reconciled; retrying`);
      throw error;
    }
  }

  /** A Kubernetes Event on the schedule (or one of its runs), and the same as a log line. */
  private event(target: TaskScheduleResource | TaskResource, type: "normal" | "warning", reason: string, message: string, fields: Record<string, unknown> = {}): void {
    const object = { apiVersion: TASK_API_VERSION, kind: "kind" in target ? target.kind : TASK_SCHEDULE_KIND, metadata: target.metadata };
    if (type === "normal") this.context.recorder.normal(object, reason, message);
    else this.context.recorder.warning(object, reason, message);
    const subject = "schedule" in target.spec ? { schedule: keyOf(target) } : { task: keyOf(target) };
    this.context.logger[type === "normal" ? "info" : "warn"](message, { event: kebab(reason), ...subject, ...fields });
  }
}

import type { NewTask } from "@org/task-core";
import {
  isFinishedPhase,
  SCHEDULE_LABEL,
  TASK_API_VERSION,
  TASK_KIND,
  TASK_SCHEDULE_KIND,
  TaskResourceSchema,
  TaskScheduleResourceSchema,
  type TaskResource,
  type TaskScheduleResource,
} from "@org/task-api";
import { between, humanDuration } from "../duration.js";
import { itemError, parseItem, type ManifestItem } from "../manifest.js";
import { describeSpec, type TaskView } from "../view.js";

/** A Task resource for `taskctl run`: the executor's shape placed in a namespace. */
export function taskResourceOf(task: NewTask, namespace: string): TaskResource {
  return {
    apiVersion: TASK_API_VERSION,
    kind: TASK_KIND,
    metadata: { name: task.name, namespace, ...(task.labels ? { labels: task.labels } : {}) },
    spec: { ...task.spec, terminated: false, backoffLimit: 0 },
  };
}

/** The metadata an apply sends: what the user owns, not what the API server fills in. */
function appliedMetadata(metadata: Record<string, unknown>, namespace: string): Record<string, unknown> {
  const kept: Record<string, unknown> = { name: metadata.name, namespace: metadata.namespace ?? namespace };
  if (metadata.labels) kept.labels = metadata.labels;
  if (metadata.annotations) kept.annotations = metadata.annotations;
  return kept;
}

/**
 * An applied item as the object to server-side apply: Task and TaskSchedule objects as they are (less the
 * fields the API server owns: status, uid, resourceVersion, managedFields, timestamps), executor-shaped
 * items `{name, labels, spec}` as Tasks in `namespace`. Validated with the resources' schemas.
 */
export function appliedObject(item: ManifestItem, namespace: string): TaskResource | TaskScheduleResource {
  const value = item.value;
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw itemError(item, [], "is not an object");
  const record = value as Record<string, unknown>;
  if (record.kind === undefined && record.apiVersion === undefined) {
    const { name, labels, spec } = record as { name?: unknown; labels?: unknown; spec?: unknown };
    if (typeof name !== "string") throw itemError(item, ["name"], "is required");
    const resource = { apiVersion: TASK_API_VERSION, kind: TASK_KIND, metadata: { name, namespace, ...(labels ? { labels } : {}) }, spec };
    return withoutDefaults(parseItem(item, TaskResourceSchema, resource), resource.spec);
  }
  if (record.kind !== TASK_KIND && record.kind !== TASK_SCHEDULE_KIND) {
    throw itemError(item, ["kind"], `must be ${TASK_KIND} or ${TASK_SCHEDULE_KIND}, got ${JSON.stringify(record.kind)}`);
  }
  const metadata = (record.metadata ?? {}) as Record<string, unknown>;
  if (typeof metadata.name !== "string") throw itemError(item, ["metadata", "name"], "is required");
  const object = { apiVersion: record.apiVersion, kind: record.kind, metadata: appliedMetadata(metadata, namespace), spec: record.spec };
  if (record.kind === TASK_KIND) return withoutDefaults(parseItem(item, TaskResourceSchema, object), object.spec);
  parseItem(item, TaskScheduleResourceSchema, object);
  return object as TaskScheduleResource;
}

/** Sends the spec as written: defaults the schema fills in stay the API server's (so apply owns only what it says). */
function withoutDefaults<T extends { spec: unknown }>(parsed: T, written: unknown): T {
  return { ...parsed, spec: written };
}

/** A Task resource as the view every verb prints. */
export function viewOfTaskResource(resource: TaskResource): TaskView {
  const status = resource.status ?? {};
  const phase = status.phase ?? "Pending";
  const placement = status.executor;
  return {
    name: resource.metadata.name ?? "",
    ...(resource.metadata.namespace ? { namespace: resource.metadata.namespace } : {}),
    state: phase,
    ...(status.exitCode !== undefined ? { exitCode: status.exitCode } : {}),
    ...(status.reason ? { reason: status.reason } : {}),
    ...(status.message ? { message: status.message } : {}),
    ...(resource.metadata.creationTimestamp ? { created: resource.metadata.creationTimestamp } : {}),
    ...(status.startTime ? { started: status.startTime } : {}),
    ...(status.completionTime ? { finished: status.completionTime } : {}),
    ...(status.duration ? { duration: status.duration } : {}),
    labels: resource.metadata.labels ?? {},
    what: describeSpec(resource.spec),
    ...(placement ? { executor: placement.node ? `${placement.pod} (${placement.node})` : placement.pod } : {}),
    terminal: isFinishedPhase(phase),
    hasStarted: status.startTime !== undefined || phase === "Running",
    deleting: resource.metadata.deletionTimestamp !== undefined,
    raw: resource,
  };
}

/** Where a placed Task's output is: the executor pod, its port and the task's name there. */
export function logsPathOf(resource: TaskResource): string | undefined {
  const placement = resource.status?.executor;
  if (!placement) return undefined;
  const port = /:(\d+)$/.exec(placement.address)?.[1];
  // The executor pod lives in its own namespace when the controller runs with --executor-namespace.
  const namespace = encodeURIComponent(placement.namespace ?? resource.metadata.namespace ?? "default");
  const pod = encodeURIComponent(port ? `${placement.pod}:${port}` : placement.pod);
  return `/api/v1/namespaces/${namespace}/pods/${pod}/proxy/tasks/${encodeURIComponent(placement.taskName)}/logs`;
}

export const SCHEDULE_HEADERS = ["NAME", "SCHEDULE", "TIMEZONE", "POLICY", "SUSPEND", "ACTIVE", "LAST SCHEDULE", "AGE"];

/** The cells of one TaskSchedule's row. */
export function scheduleRow(schedule: TaskScheduleResource, now = Date.now()): string[] {
  const last = between(schedule.status?.lastScheduleTime, undefined, now);
  const age = between(schedule.metadata.creationTimestamp, undefined, now);
  return [
    schedule.metadata.name ?? "",
    schedule.spec.schedule,
    schedule.spec.timeZone ?? "UTC",
    schedule.spec.concurrencyPolicy ?? "Always",
    String(schedule.spec.suspend ?? false),
    String(schedule.status?.active?.length ?? 0),
    last === undefined ? "<none>" : `${humanDuration(last)} ago`,
    age === undefined ? "" : humanDuration(age),
  ];
}

/** A Task for `schedule run`: the schedule's template now, labelled with and owned by the schedule. */
export function taskFromSchedule(schedule: TaskScheduleResource, name: string): TaskResource {
  const template = schedule.spec.taskTemplate;
  return {
    apiVersion: TASK_API_VERSION,
    kind: TASK_KIND,
    metadata: {
      name,
      namespace: schedule.metadata.namespace,
      labels: { ...(template.metadata?.labels ?? {}), [SCHEDULE_LABEL]: schedule.metadata.name ?? "" },
      ...(schedule.metadata.uid
        ? { ownerReferences: [{ apiVersion: TASK_API_VERSION, kind: TASK_SCHEDULE_KIND, name: schedule.metadata.name ?? "", uid: schedule.metadata.uid, controller: false }] }
        : {}),
    },
    spec: template.spec,
  };
}

import * as k8s from "@kubernetes/client-node";
import {
  TASK_GROUP,
  TASK_PLURAL,
  TASK_SCHEDULE_PLURAL,
  TASK_VERSION,
  type TaskResource,
  type TaskResourceStatus,
  type TaskScheduleResource,
  type TaskScheduleStatus,
} from "@org/task-api";

/** Loads the kubeconfig: the file given, else `KUBECONFIG` or `~/.kube/config`, else the in-cluster account. */
export function loadKubeConfig(file: string | undefined): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  if (file) kc.loadFromFile(file);
  else kc.loadFromDefault();
  return kc;
}

/** The HTTP status of a failed API call, or undefined for failures without one (connection, timeout). */
export function statusOf(error: unknown): number | undefined {
  if (error instanceof k8s.ApiException) return error.code;
  const code = (error as { code?: unknown; statusCode?: unknown })?.code ?? (error as { statusCode?: unknown })?.statusCode;
  return typeof code === "number" ? code : undefined;
}

export const isNotFound = (error: unknown) => statusOf(error) === 404;
export const isConflict = (error: unknown) => statusOf(error) === 409;

const mergePatch = k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch);

/**
 * The API calls the controller makes, typed over the Task and TaskSchedule resources. Status writes carry the
 * object's resourceVersion, so a decision made on a stale object fails with 409 instead of overwriting.
 */
export class KubeApi {
  readonly core: k8s.CoreV1Api;
  readonly coordination: k8s.CoordinationV1Api;
  private readonly custom: k8s.CustomObjectsApi;

  constructor(readonly config: k8s.KubeConfig) {
    this.core = config.makeApiClient(k8s.CoreV1Api);
    this.coordination = config.makeApiClient(k8s.CoordinationV1Api);
    this.custom = config.makeApiClient(k8s.CustomObjectsApi);
  }

  private ref(plural: string, namespace: string, name: string) {
    return { group: TASK_GROUP, version: TASK_VERSION, plural, namespace, name };
  }

  listTasks(namespace?: string): Promise<{ items: TaskResource[] }> {
    return namespace
      ? this.custom.listNamespacedCustomObject({ group: TASK_GROUP, version: TASK_VERSION, plural: TASK_PLURAL, namespace })
      : this.custom.listClusterCustomObject({ group: TASK_GROUP, version: TASK_VERSION, plural: TASK_PLURAL });
  }

  listSchedules(namespace?: string): Promise<{ items: TaskScheduleResource[] }> {
    return namespace
      ? this.custom.listNamespacedCustomObject({ group: TASK_GROUP, version: TASK_VERSION, plural: TASK_SCHEDULE_PLURAL, namespace })
      : this.custom.listClusterCustomObject({ group: TASK_GROUP, version: TASK_VERSION, plural: TASK_SCHEDULE_PLURAL });
  }

  /** Replaces the status of `task` (optimistic: fails with 409 when the object changed since it was read). */
  writeTaskStatus(task: TaskResource, status: TaskResourceStatus): Promise<TaskResource> {
    const { namespace, name } = task.metadata as { namespace: string; name: string };
    return this.custom.replaceNamespacedCustomObjectStatus({
      ...this.ref(TASK_PLURAL, namespace, name),
      body: { ...task, status },
    });
  }

  writeScheduleStatus(schedule: TaskScheduleResource, status: TaskScheduleStatus): Promise<TaskScheduleResource> {
    const { namespace, name } = schedule.metadata as { namespace: string; name: string };
    return this.custom.replaceNamespacedCustomObjectStatus({
      ...this.ref(TASK_SCHEDULE_PLURAL, namespace, name),
      body: { ...schedule, status },
    });
  }

  /** Sets the finalizers of `task`, guarded by its resourceVersion. */
  setTaskFinalizers(task: TaskResource, finalizers: string[]): Promise<TaskResource> {
    const { namespace, name, resourceVersion } = task.metadata as { namespace: string; name: string; resourceVersion: string };
    return this.custom.patchNamespacedCustomObject(
      { ...this.ref(TASK_PLURAL, namespace, name), body: { metadata: { finalizers, resourceVersion } } },
      mergePatch,
    );
  }

  /** Merge-patches a Task's spec (used to cancel the runs a `Replace` schedule replaces). */
  patchTaskSpec(namespace: string, name: string, spec: Record<string, unknown>): Promise<TaskResource> {
    return this.custom.patchNamespacedCustomObject({ ...this.ref(TASK_PLURAL, namespace, name), body: { spec } }, mergePatch);
  }

  createTask(namespace: string, task: TaskResource): Promise<TaskResource> {
    return this.custom.createNamespacedCustomObject({ group: TASK_GROUP, version: TASK_VERSION, plural: TASK_PLURAL, namespace, body: task });
  }

  deleteTask(namespace: string, name: string): Promise<unknown> {
    return this.custom.deleteNamespacedCustomObject({ ...this.ref(TASK_PLURAL, namespace, name) });
  }
}

/** The API group, version and kinds of the task controller's resources. */
export const TASK_GROUP = "tasks.org.dev";
export const TASK_VERSION = "v1alpha1";
export const TASK_API_VERSION = `${TASK_GROUP}/${TASK_VERSION}`;

export const TASK_KIND = "Task";
export const TASK_PLURAL = "tasks";
export const TASK_SINGULAR = "task";

export const TASK_SCHEDULE_KIND = "TaskSchedule";
export const TASK_SCHEDULE_PLURAL = "taskschedules";
export const TASK_SCHEDULE_SINGULAR = "taskschedule";

/** Label that marks a pod as an executor the controller may place Tasks on (value `"true"`). */
export const EXECUTOR_LABEL = `${TASK_GROUP}/executor`;
/** Pod annotation holding the executor's API port; {@link DEFAULT_EXECUTOR_PORT} when absent. */
export const EXECUTOR_PORT_ANNOTATION = `${TASK_GROUP}/executor-port`;
export const DEFAULT_EXECUTOR_PORT = 5758;

/** The label naming a Task's app; retention keeps the newest Tasks per namespace and app. */
export const APP_LABEL = "app.kubernetes.io/name";
/** Label the controller puts on the Tasks a TaskSchedule creates, naming the schedule. */
export const SCHEDULE_LABEL = `${TASK_GROUP}/schedule`;

/** Finalizer that holds a placed Task's deletion until its executor has dropped it. */
export const CLEANUP_FINALIZER = `${TASK_GROUP}/cleanup`;

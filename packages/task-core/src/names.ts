import { createHash } from "node:crypto";
import { z } from "zod";

/**
 * Longest task name accepted. Controllers name tasks `<object name>-<index>` after Kubernetes objects of up
 * to 253 characters, so names longer than a file name must be accepted.
 */
export const TASK_NAME_MAX_LENGTH = 512;

/** Names up to this length are their own directory name; longer ones get a derived one ({@link taskDirName}). */
export const TASK_DIR_NAME_VERBATIM_MAX = 253;
/** How much of a long name its directory name keeps, so an operator still recognises it. */
const TASK_DIR_NAME_KEPT_PREFIX = 160;
/** Separates the kept prefix from the hash; never part of a task name, so derived names never collide with real ones. */
const TASK_DIR_NAME_HASH_SEPARATOR = "~";

const TASK_NAME_PATTERN = /^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$/;

/**
 * A task name: 1 to 512 letters, digits, `.`, `_` or `-`, starting and ending with a letter or digit.
 * `.`, `..`, `a/b` and `../x` are rejected; the task's directory under the data dir is {@link taskDirName}.
 */
export const TaskNameSchema = z
  .string({ error: "name must be a string" })
  .min(1, { error: "name must not be empty" })
  .max(TASK_NAME_MAX_LENGTH, { error: `name must be at most ${TASK_NAME_MAX_LENGTH} characters` })
  .regex(TASK_NAME_PATTERN, {
    error: "name may hold only letters, digits, '.', '_' and '-', and must start and end with a letter or digit",
  });

/** True when `name` is a valid task name (see {@link TaskNameSchema}). */
export function isValidTaskName(name: unknown): name is string {
  return TaskNameSchema.safeParse(name).success;
}

/**
 * The directory name of a task under the data dir: the name itself up to 253 characters, else the first 160
 * characters, `~` and the SHA-256 of the whole name in hex (225 bytes). Always one path-safe component of at
 * most 255 bytes; `~` cannot occur in a name, so a derived directory name is never another task's name.
 */
export function taskDirName(name: string): string {
  if (name.length <= TASK_DIR_NAME_VERBATIM_MAX) return name;
  const hash = createHash("sha256").update(name).digest("hex");
  return `${name.slice(0, TASK_DIR_NAME_KEPT_PREFIX)}${TASK_DIR_NAME_HASH_SEPARATOR}${hash}`;
}

const LABEL_NAME = /^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*$/;

/** A Kubernetes label key: `name` or `prefix/name`, prefix a DNS subdomain of at most 253 characters. */
export const LabelKeySchema = z.string().refine(
  (key) => {
    const slash = key.indexOf("/");
    const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
    const name = slash >= 0 ? key.slice(slash + 1) : key;
    if (prefix !== undefined && (prefix.length > 253 || !DNS_SUBDOMAIN.test(prefix))) return false;
    return LABEL_NAME.test(name);
  },
  { error: "label keys are 'name' or 'prefix/name' (name: up to 63 letters, digits, '-', '_', '.'; prefix: a DNS subdomain)" },
);

/** A Kubernetes label value: empty, or up to 63 letters, digits, `-`, `_`, `.`, starting and ending alphanumeric. */
export const LabelValueSchema = z
  .string()
  .refine((value) => value === "" || LABEL_NAME.test(value), {
    error: "label values are empty or up to 63 letters, digits, '-', '_', '.', starting and ending with a letter or digit",
  });

/** At most this many labels per task. */
export const MAX_LABELS = 64;

export const LabelsSchema = z
  .record(LabelKeySchema, LabelValueSchema)
  .refine((labels) => Object.keys(labels).length <= MAX_LABELS, { error: `at most ${MAX_LABELS} labels` });

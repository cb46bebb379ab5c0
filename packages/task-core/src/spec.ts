import { z } from "zod";
import { ResourcesSchema } from "./quantity.js";

const NO_NUL = /^[^\0]*$/;

/** A string that can be handed to exec: no NUL bytes. */
const ExecString = z.string().regex(NO_NUL, { error: "must not contain NUL characters" });

/** An absolute path without NUL bytes and without `..` segments. */
export const AbsolutePathSchema = ExecString.max(4096).refine(
  (path) => path.startsWith("/") && !path.split("/").includes(".."),
  { error: "must be an absolute path without '..' segments" },
);

/** An environment variable name: what a shell or a process can carry (no `=`, no NUL, not empty). */
export const EnvNameSchema = z
  .string()
  .min(1, { error: "env names must not be empty" })
  .max(1024)
  .regex(/^[^=\0]+$/, { error: "env names must not contain '=' or NUL" });

export const EnvVarSchema = z.object({
  name: EnvNameSchema,
  value: ExecString.default(""),
});
export type EnvVar = z.infer<typeof EnvVarSchema>;

/** Seconds after which the task is killed; 0 or absent means no timeout. */
export const TimeoutSecondsSchema = z
  .number({ error: "timeoutSeconds must be a whole number of seconds >= 0" })
  .int({ error: "timeoutSeconds must be a whole number of seconds >= 0" })
  .min(0, { error: "timeoutSeconds must be a whole number of seconds >= 0" })
  .max(31_536_000, { error: "timeoutSeconds must be at most one year" });

const Command = z.array(ExecString.min(1, { error: "command entries must not be empty" })).max(4096);
const Args = z.array(ExecString).max(65536);

/** A task run as a host process (or, in sidecar mode, inside the main container). */
export const ProcessSpecSchema = z.object({
  command: Command.min(1, { error: "command must name the program to run" }),
  args: Args.optional(),
  env: z.array(EnvVarSchema).max(4096).optional(),
  workingDir: AbsolutePathSchema.optional(),
  timeoutSeconds: TimeoutSecondsSchema.optional(),
  resources: ResourcesSchema.optional(),
});
export type ProcessSpec = z.infer<typeof ProcessSpecSchema>;

export const VolumeMountSchema = z.object({
  name: z.string().min(1).max(253).regex(/^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$/, {
    error: "volume names hold letters, digits, '.', '_', '-'",
  }),
  mountPath: AbsolutePathSchema,
  readOnly: z.boolean().optional(),
});
export type VolumeMount = z.infer<typeof VolumeMountSchema>;

export const ImagePullPolicySchema = z.enum(["IfNotPresent", "Always", "Never"]);
export type ImagePullPolicy = z.infer<typeof ImagePullPolicySchema>;

/** A task run as a container through the node's CRI runtime. */
export const ContainerSpecSchema = z.object({
  image: z.string().min(1, { error: "image must not be empty" }).max(1024).regex(/^[^\s\0]+$/, {
    error: "image must not contain whitespace",
  }),
  imagePullPolicy: ImagePullPolicySchema.optional(),
  command: Command.optional(),
  args: Args.optional(),
  env: z.array(EnvVarSchema).max(4096).optional(),
  workingDir: AbsolutePathSchema.optional(),
  volumeMounts: z.array(VolumeMountSchema).max(64).optional(),
  timeoutSeconds: TimeoutSecondsSchema.optional(),
  resources: ResourcesSchema.optional(),
});
export type ContainerSpec = z.infer<typeof ContainerSpecSchema>;

/** What to run: exactly one of `process` or `container`. */
export const TaskSpecSchema = z
  .object({
    process: ProcessSpecSchema.optional(),
    container: ContainerSpecSchema.optional(),
  })
  .superRefine((spec, ctx) => {
    const kinds = [spec.process, spec.container].filter((kind) => kind !== undefined).length;
    if (kinds !== 1) {
      ctx.addIssue({
        code: "custom",
        message: "spec must set exactly one of 'process' or 'container'",
        path: [],
      });
    }
  });
export type TaskSpec = z.infer<typeof TaskSpecSchema>;

/** The timeout of a spec in seconds (0 = none). */
export function specTimeoutSeconds(spec: TaskSpec): number {
  return (spec.process ?? spec.container)?.timeoutSeconds ?? 0;
}

import { stringify } from "yaml";
import { z } from "zod";
import {
  TASK_GROUP,
  TASK_KIND,
  TASK_PLURAL,
  TASK_SCHEDULE_KIND,
  TASK_SCHEDULE_PLURAL,
  TASK_SCHEDULE_SINGULAR,
  TASK_SINGULAR,
  TASK_VERSION,
} from "./names.js";
import { TaskResourceSpecSchema, TaskResourceStatusSchema } from "./task.js";
import { TaskScheduleSpecSchema, TaskScheduleStatusSchema } from "./schedule.js";

type Schema = Record<string, unknown>;

/** The keywords of a structural schema that Kubernetes accepts; everything else zod emits is dropped. */
const KEPT = new Set([
  "type", "description", "default", "enum", "format", "pattern", "nullable",
  "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
  "minLength", "maxLength", "minItems", "maxItems", "required",
]);

/** Turns zod's OpenAPI 3.0 output into a structural schema as CRDs require it. */
function structural(schema: Schema): Schema {
  const out: Schema = {};
  for (const [key, value] of Object.entries(schema)) {
    if (KEPT.has(key)) out[key] = value;
    else if (key === "properties") {
      out.properties = Object.fromEntries(
        Object.entries(value as Record<string, Schema>).map(([name, child]) => [name, structural(child)]),
      );
    } else if (key === "items") out.items = structural(value as Schema);
    else if (key === "additionalProperties" && typeof value === "object" && schema.properties === undefined) {
      out.additionalProperties = structural(value as Schema);
    }
  }
  if (Array.isArray(out.required) && out.required.length === 0) delete out.required;
  return out;
}

function fromZod(schema: z.ZodType): Schema {
  return structural(z.toJSONSchema(schema, { target: "openapi-3.0", io: "input", unrepresentable: "throw" }) as Schema);
}

/** The Task spec: what zod says, plus the rule zod's refinement enforces, in CEL for the API server. */
function taskSpecSchema(options: { immutableRun: boolean }): Schema {
  const schema = fromZod(TaskResourceSpecSchema);
  const properties = schema.properties as Record<string, Schema>;
  // What runs cannot change once the Task exists: the executor keeps the spec it was given.
  for (const kind of options.immutableRun ? ["process", "container"] : []) {
    properties[kind] = { ...properties[kind], "x-kubernetes-validations": [{ rule: "self == oldSelf", message: `${kind} is immutable; create a new Task` }] };
  }
  return {
    ...schema,
    "x-kubernetes-validations": [
      { rule: "has(self.process) != has(self.container)", message: "spec must set exactly one of 'process' or 'container'" },
    ],
  };
}

function withTaskSpec(templateSchema: Schema): Schema {
  const properties = templateSchema.properties as Record<string, Schema>;
  const template = properties.taskTemplate as Schema;
  const templateProperties = template.properties as Record<string, Schema>;
  return {
    ...templateSchema,
    properties: {
      ...properties,
      taskTemplate: { ...template, properties: { ...templateProperties, spec: taskSpecSchema({ immutableRun: false }) } },
    },
  };
}

interface Column {
  name: string;
  type: string;
  jsonPath: string;
  description?: string;
  priority?: number;
}

function crd(options: {
  kind: string;
  plural: string;
  singular: string;
  shortNames: string[];
  spec: Schema;
  status: Schema;
  columns: Column[];
  rootValidations?: { rule: string; message: string }[];
}): Schema {
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: `${options.plural}.${TASK_GROUP}` },
    spec: {
      group: TASK_GROUP,
      scope: "Namespaced",
      names: {
        kind: options.kind,
        listKind: `${options.kind}List`,
        plural: options.plural,
        singular: options.singular,
        shortNames: options.shortNames,
        categories: ["all"],
      },
      versions: [
        {
          name: TASK_VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: options.columns,
          schema: {
            openAPIV3Schema: {
              type: "object",
              required: ["spec"],
              properties: {
                apiVersion: { type: "string" },
                kind: { type: "string" },
                metadata: { type: "object" },
                spec: options.spec,
                status: options.status,
              },
              ...(options.rootValidations ? { "x-kubernetes-validations": options.rootValidations } : {}),
            },
          },
        },
      ],
    },
  };
}

/** The CustomResourceDefinition of Task, generated from the zod schemas. */
export function taskCrd(): Schema {
  return crd({
    kind: TASK_KIND,
    plural: TASK_PLURAL,
    singular: TASK_SINGULAR,
    shortNames: ["tk"],
    spec: taskSpecSchema({ immutableRun: true }),
    status: fromZod(TaskResourceStatusSchema),
    columns: [
      { name: "Phase", type: "string", jsonPath: ".status.phase" },
      { name: "Exit", type: "integer", jsonPath: ".status.exitCode" },
      { name: "Reason", type: "string", jsonPath: ".status.reason" },
      { name: "Executor", type: "string", jsonPath: ".status.executor.pod" },
      { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" },
      { name: "Duration", type: "string", jsonPath: ".status.duration" },
    ],
  });
}

/** The CustomResourceDefinition of TaskSchedule, generated from the zod schemas. */
export function taskScheduleCrd(): Schema {
  return crd({
    kind: TASK_SCHEDULE_KIND,
    plural: TASK_SCHEDULE_PLURAL,
    singular: TASK_SCHEDULE_SINGULAR,
    shortNames: ["tks"],
    spec: {
      ...withTaskSpec(fromZod(TaskScheduleSpecSchema)),
      "x-kubernetes-validations": [
        {
          rule: "self.schedule.matches('^@[a-z]+$') || self.schedule.trim().split(' ').filter(f, f != '').size() in [5, 6]",
          message: "schedule must have 5 fields (minute hour day month weekday) or 6 with leading seconds",
        },
      ],
    },
    status: fromZod(TaskScheduleStatusSchema),
    columns: [
      { name: "Schedule", type: "string", jsonPath: ".spec.schedule" },
      { name: "TimeZone", type: "string", jsonPath: ".spec.timeZone" },
      { name: "Policy", type: "string", jsonPath: ".spec.concurrencyPolicy" },
      { name: "Suspend", type: "boolean", jsonPath: ".spec.suspend" },
      { name: "Last Schedule", type: "date", jsonPath: ".status.lastScheduleTime" },
      { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" },
    ],
    rootValidations: [
      { rule: "self.metadata.name.size() <= 242", message: "TaskSchedule names are at most 242 characters (run names add a time)" },
    ],
  });
}

/** Both CRDs, as `deploy/crds/` holds them. */
export function allCrds(): { file: string; manifest: Schema }[] {
  return [
    { file: `${TASK_GROUP}_${TASK_PLURAL}.yaml`, manifest: taskCrd() },
    { file: `${TASK_GROUP}_${TASK_SCHEDULE_PLURAL}.yaml`, manifest: taskScheduleCrd() },
  ];
}

/** The YAML text of a generated CRD file, with a header saying where it comes from. */
export function crdFileText(manifest: Schema): string {
  return `# Generated from @org/task-api's zod schemas by \`pnpm --filter @org/task-api crds\`; do not edit.\n${stringify(manifest, { lineWidth: 0 })}`;
}

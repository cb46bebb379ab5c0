/** Renders an OpenAPI 3.1 document as the Markdown API reference of docs/api.md (routes, parameters, schemas). */

type Schema = Record<string, unknown>;
type Operation = {
  summary?: string;
  operationId?: string;
  security?: unknown[];
  parameters?: Array<{ name: string; in: string; required?: boolean; description?: string; schema?: Schema }>;
  requestBody?: { content: Record<string, { schema?: Schema; examples?: Record<string, { value: unknown }> }> };
  responses: Record<string, { description: string; content?: Record<string, { schema?: Schema }> }>;
};
type Document = { info: { title: string; version: string; description?: string }; paths: Record<string, Record<string, Operation>>; components?: { schemas?: Record<string, Schema> } };

const cell = (text: string) => text.replace(/\|/g, "\\|").replace(/\n/g, " ");

/** A one-line summary of a schema: `Task`, `array of Task`, `"a" \| "b"`, `string (pattern …)`. */
export function typeOf(schema: Schema | undefined): string {
  if (!schema) return "";
  if (typeof schema.$ref === "string") return schema.$ref.split("/").pop()!;
  if ("const" in schema) return JSON.stringify(schema.const);
  if (Array.isArray(schema.enum)) return schema.enum.map((value) => JSON.stringify(value)).join(" | ");
  for (const key of ["anyOf", "oneOf"] as const) if (Array.isArray(schema[key])) return (schema[key] as Schema[]).map(typeOf).join(" | ");
  if (schema.type === "array") return `array of ${typeOf(schema.items as Schema)}`;
  const limits = ["minLength", "maxLength", "minimum", "maximum", "minItems", "maxItems", "pattern", "format", "default"]
    // Zod's bounds of a plain integer are the safe-integer range: noise, not a limit of the API.
    .filter((key) => key in schema && !(typeof schema[key] === "number" && Math.abs(schema[key] as number) >= Number.MAX_SAFE_INTEGER))
    .map((key) => `${key} ${typeof schema[key] === "string" && key !== "default" ? `\`${schema[key] as string}\`` : JSON.stringify(schema[key])}`);
  const type = Array.isArray(schema.type) ? schema.type.join(" | ") : String(schema.type ?? "any");
  return limits.length ? `${type} (${limits.join(", ")})` : type;
}

/** Rows for every field, nested ones by dotted path (`spec.process.env[].name`); alternatives share a prefix. */
function fieldRows(schema: Schema, prefix: string, depth: number, alternative = false): string[] {
  if (depth > 6) return [];
  const alternatives = (schema.anyOf ?? schema.oneOf) as Schema[] | undefined;
  if (alternatives) return alternatives.flatMap((branch) => fieldRows(branch, prefix, depth + 1, true));
  if (schema.type === "array" && schema.items) return fieldRows(schema.items as Schema, `${prefix}[]`, depth + 1);
  const props = schema.properties as Record<string, Schema> | undefined;
  if (!props) return [];
  const required = new Set((schema.required as string[] | undefined) ?? []);
  return Object.entries(props).flatMap(([name, child]) => {
    const path = prefix ? `${prefix}.${name}` : name;
    const nested = fieldRows(child, path, depth + 1);
    const type = nested.length ? (child.type === "array" ? "array of object" : "object") : typeOf(child);
    return [`| \`${path}\` | ${cell(type)} | ${required.has(name) ? (alternative ? "one of" : "yes") : "no"} | ${cell(String(child.description ?? ""))} |`, ...nested];
  });
}

function properties(schema: Schema): string[] {
  const rows = fieldRows(schema, "", 0);
  if (rows.length === 0) return [typeOf(schema), ""];
  return ["| Field | Type | Required | Description |", "|---|---|---|---|", ...rows, ""];
}

function operation(method: string, path: string, op: Operation): string[] {
  const lines = [`### ${method.toUpperCase()} ${path}`, "", op.summary ?? "", ""];
  lines.push(op.security?.length === 0 ? "No token needed." : "Needs `Authorization: Bearer <token>` or `X-Executor-Token: <token>` when the executor runs with `--auth-token-file`.", "");
  if (op.parameters?.length) {
    lines.push("| Parameter | In | Type | Required | Description |", "|---|---|---|---|---|");
    for (const param of op.parameters) lines.push(`| \`${param.name}\` | ${param.in} | ${cell(typeOf(param.schema))} | ${param.required ? "yes" : "no"} | ${cell(param.description ?? "")} |`);
    lines.push("");
  }
  for (const [type, body] of Object.entries(op.requestBody?.content ?? {})) {
    lines.push(`Request body (\`${type}\`): ${typeOf(body.schema)}`, "");
    for (const [name, example] of Object.entries(body.examples ?? {})) lines.push(`Example (${name}):`, "", "```json", JSON.stringify(example.value, null, 2), "```", "");
  }
  lines.push("| Status | Meaning | Body |", "|---|---|---|");
  for (const [status, reply] of Object.entries(op.responses)) {
    const bodies = Object.entries(reply.content ?? {}).map(([type, content]) => `${typeOf(content.schema)} (\`${type}\`)`);
    lines.push(`| ${status} | ${cell(reply.description)} | ${cell(bodies.join(", "))} |`);
  }
  lines.push("");
  return lines;
}

export function apiMarkdown(document: Document): string {
  const lines = [
    `# ${document.info.title} API ${document.info.version}`,
    "",
    "<!-- Generated from docs/openapi.json by `pnpm --filter @org/executor run openapi`; do not edit by hand. -->",
    "",
    document.info.description ?? "",
    "",
    "## Endpoints",
    "",
  ];
  for (const [path, methods] of Object.entries(document.paths)) {
    for (const [method, op] of Object.entries(methods)) lines.push(...operation(method, path, op));
  }
  lines.push("## Schemas", "");
  for (const [name, schema] of Object.entries(document.components?.schemas ?? {})) {
    lines.push(`### ${name}`, "", ...(schema.description ? [String(schema.description), ""] : []), ...properties(schema));
  }
  return `${lines.join("\n").replace(/\n{3,}/g, "\n\n").trimEnd()}\n`;
}

import { stringify } from "yaml";
import { UsageError } from "../errors.js";
import type { Terminal } from "../terminal.js";
import type { TaskView } from "../view.js";
import { colorState, HEADERS, taskRow, WIDE_CLUSTER_HEADERS, WIDE_HEADERS } from "./rows.js";
import { fitLastColumn, renderTable } from "./table.js";

export const OUTPUT_FORMATS = ["json", "yaml", "wide", "name"] as const;
export type OutputFormat = "table" | (typeof OUTPUT_FORMATS)[number];

export function parseOutput(value: string | undefined): OutputFormat {
  if (value === undefined) return "table";
  if ((OUTPUT_FORMATS as readonly string[]).includes(value)) return value as OutputFormat;
  throw new UsageError(`unknown output format '${value}': use one of ${OUTPUT_FORMATS.join(", ")}`);
}

/** The API's objects as they are: JSON with two-space indent, or YAML. */
export function serialize(raw: unknown, format: "json" | "yaml"): string {
  return format === "json" ? `${JSON.stringify(raw, null, 2)}\n` : stringify(raw, { lineWidth: 0 });
}

/** The table of tasks as text (colours applied after the widths are fitted). */
export function tasksTable(views: TaskView[], wide: boolean, terminal: Terminal, now = Date.now()): string {
  const withExecutor = views.some((view) => view.executor !== undefined || view.namespace !== undefined);
  const plainHeaders = wide ? (withExecutor ? WIDE_CLUSTER_HEADERS : WIDE_HEADERS) : HEADERS;
  const rows = fitLastColumn(
    plainHeaders,
    views.map((view) => taskRow(view, wide, now, withExecutor)),
    wide ? terminal.columns : undefined,
  );
  const colored = rows.map((row, index) => {
    const view = views[index]!;
    return row.map((cell, column) => (column === 1 || column === 3 ? colorState(cell, view, terminal.out) : cell));
  });
  const headers = plainHeaders.map((header) => terminal.out.bold(header));
  return `${renderTable(headers, colored)}\n`;
}

/** Prints tasks in the asked format: `raw` is the API's object (or list) for json/yaml. */
export function formatTasks(views: TaskView[], raw: unknown, format: OutputFormat, terminal: Terminal): string {
  switch (format) {
    case "json":
    case "yaml":
      return serialize(raw, format);
    case "name":
      return views.map((view) => `task/${view.name}\n`).join("");
    default:
      return views.length === 0 ? "" : tasksTable(views, format === "wide", terminal);
  }
}

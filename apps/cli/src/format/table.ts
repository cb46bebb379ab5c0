import Table from "cli-table3";

const NO_BORDERS = {
  top: "", "top-mid": "", "top-left": "", "top-right": "",
  bottom: "", "bottom-mid": "", "bottom-left": "", "bottom-right": "",
  left: "", "left-mid": "", mid: "", "mid-mid": "", right: "", "right-mid": "", middle: "",
};

/** Cuts the text to `width` characters, marking the cut with an ellipsis. */
export function truncate(text: string, width: number): string {
  if (width <= 0) return "";
  return text.length <= width ? text : `${text.slice(0, Math.max(0, width - 1))}…`;
}

/**
 * Fits the last column into `columns` characters: the other columns keep their width (3 spaces between
 * columns, as kubectl does), the last one is cut. Without a width (piped output) nothing is cut.
 */
export function fitLastColumn(headers: string[], rows: string[][], columns: number | undefined): string[][] {
  if (columns === undefined || rows.length === 0) return rows;
  const count = headers.length;
  const widths = Array.from({ length: count - 1 }, (_, index) => Math.max(...[headers, ...rows].map((row) => (row[index] ?? "").length)));
  const room = columns - widths.reduce((total, width) => total + width + 3, 0);
  const last = Math.max(8, room);
  return rows.map((row) => [...row.slice(0, -1), truncate(row[count - 1] ?? "", last)]);
}

/** A kubectl-style table: no borders, left-aligned columns, header first. Cells may carry colour codes. */
export function renderTable(headers: string[], rows: string[][]): string {
  const table = new Table({
    head: headers,
    chars: NO_BORDERS,
    style: { head: [], border: [], "padding-left": 0, "padding-right": 3, compact: true },
  });
  for (const row of rows) table.push(row);
  return table
    .toString()
    .split("\n")
    .map((line) => line.trimEnd())
    .join("\n");
}

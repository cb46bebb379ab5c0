import ora from "ora";
import pc from "picocolors";
import { humanDuration } from "./duration.js";

export type Colors = ReturnType<typeof pc.createColors>;

/** Colours only on a terminal, never with NO_COLOR (any non-empty value) or `--no-color`. */
export function colorsFor(stream: NodeJS.WriteStream, noColorFlag = false): Colors {
  const noColor = noColorFlag || (process.env.NO_COLOR ?? "") !== "";
  return pc.createColors(Boolean(stream.isTTY) && !noColor && process.env.TERM !== "dumb");
}

/** The terminal taskctl talks to: colours per stream, the width for wide tables. */
export interface Terminal {
  out: Colors;
  err: Colors;
  /** Spinners and prompts are for people: stderr (spinner) or stdin (prompt) is a terminal. */
  interactiveErr: boolean;
  interactiveIn: boolean;
  /** Columns of the terminal stdout is on, undefined when piped. */
  columns: number | undefined;
  color: boolean;
}

export function detectTerminal(noColorFlag = false): Terminal {
  const err = colorsFor(process.stderr, noColorFlag);
  return {
    out: colorsFor(process.stdout, noColorFlag),
    err,
    // A terminal that reports no width (some pseudo-terminals) cannot redraw a spinner line.
    interactiveErr: Boolean(process.stderr.isTTY) && (process.stderr.columns ?? 0) > 0 && process.env.TERM !== "dumb",
    interactiveIn: Boolean(process.stdin.isTTY),
    columns: process.stdout.isTTY ? process.stdout.columns : undefined,
    color: err.isColorSupported,
  };
}

/** A spinner with elapsed time on stderr while `work` runs; nothing at all when stderr is not a terminal. */
export async function withSpinner<T>(terminal: Terminal, text: string, work: () => Promise<T>): Promise<T> {
  if (!terminal.interactiveErr) return work();
  const started = Date.now();
  const spinner = ora({
    text,
    stream: process.stderr,
    isEnabled: true,
    discardStdin: false,
    color: terminal.color ? "cyan" : false,
  }).start();
  const timer = setInterval(() => {
    spinner.text = `${text} ${terminal.err.dim(humanDuration(Date.now() - started))}`;
  }, 250);
  try {
    return await work();
  } finally {
    clearInterval(timer);
    spinner.stop();
  }
}

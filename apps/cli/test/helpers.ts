import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

/** The built taskctl (apps/cli must be built). */
export const TASKCTL = fileURLToPath(new URL("../bin/taskctl.js", import.meta.url));

export interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  env?: Record<string, string | undefined>;
  input?: string;
  timeoutMs?: number;
}

/** The environment of a person's shell: no colour overrides, no CI marker, TERM as given. */
export function cleanEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of ["NO_COLOR", "FORCE_COLOR", "TASKCTL_EXECUTOR", "TASKCTL_TOKEN", "KUBECONFIG"]) delete env[name];
  for (const [name, value] of Object.entries(extra)) {
    if (value === undefined) delete env[name];
    else env[name] = value;
  }
  return env;
}

/** Runs taskctl as a child process with piped stdio and collects its output. */
export function taskctl(args: string[], options: RunOptions = {}): Promise<Result> {
  return runCommand(process.execPath, [TASKCTL, ...args], options);
}

export function runCommand(file: string, args: string[], options: RunOptions = {}): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { env: cleanEnv(options.env), stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${args.join(" ")} did not finish within ${options.timeoutMs ?? 30_000} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, options.timeoutMs ?? 30_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(options.input ?? "");
  });
}

/** Quotes words for `sh -c`. */
export function shellQuote(words: string[]): string {
  return words.map((word) => `'${word.replaceAll("'", "'\\''")}'`).join(" ");
}

/**
 * Runs taskctl under a pseudo-terminal (util-linux `script`), as in a person's terminal of 100 columns.
 * stdout and stderr both arrive on the terminal, so they come back together.
 */
export function taskctlOnTerminal(args: string[], options: RunOptions & { interruptAfterSeconds?: number } = {}): Promise<Result> {
  const interrupt = options.interruptAfterSeconds ? `timeout -s INT ${options.interruptAfterSeconds} ` : "";
  const command = `stty cols 100 rows 30; ${interrupt}${shellQuote([process.execPath, TASKCTL, ...args])}`;
  return runCommand("script", ["-qefc", command, "/dev/null"], { ...options, env: { TERM: "xterm-256color", ...options.env } });
}

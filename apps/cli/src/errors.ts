import { ExecutorClientError } from "@org/task-core";

/** taskctl's exit codes (also listed in `taskctl --help`). */
export const EXIT_OK = 0;
export const EXIT_ERROR = 1;
export const EXIT_USAGE = 2;
/** A task waited for ended without an exit code (cancelled before it started, lost, never placed). */
export const EXIT_NO_EXIT_CODE = 125;

/** An error taskctl reports as one line on stderr, with the exit code it ends with. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT_ERROR,
  ) {
    super(message);
    this.name = "CliError";
  }
}

/** A wrong invocation: exit code 2. */
export class UsageError extends CliError {
  constructor(message: string) {
    super(message, EXIT_USAGE);
    this.name = "UsageError";
  }
}

/** The one line printed for any failure: the API's message and fields, the URL not reached, the bad file. */
export function describeError(error: unknown): string {
  if (error instanceof CliError) return error.message;
  if (error instanceof ExecutorClientError) return describeClientError(error);
  const kube = describeKubeError(error);
  if (kube) return kube;
  if (error instanceof Error) return error.message.split("\n")[0] ?? String(error);
  return String(error);
}

function describeClientError(error: ExecutorClientError): string {
  if (error.kind === "connection") return `cannot reach the executor: ${error.message}`;
  if (error.kind === "timeout") return `the executor did not answer in time: ${error.message}`;
  const body = error.body;
  if (!body) return `unexpected reply from the executor: ${error.message}`;
  const fields = (body.details ?? []).map((detail) => `${detail.path}: ${detail.message}`);
  const message = fields.length > 0 && !fields.every((field) => body.message.includes(field)) ? `${body.message} (${fields.join("; ")})` : body.message;
  return `${body.code}: ${message}`;
}

/** Errors of @kubernetes/client-node carry the API server's Status as the body. */
function describeKubeError(error: unknown): string | undefined {
  if (typeof error !== "object" || error === null || !("code" in error) || !("body" in error)) return undefined;
  const { code, body } = error as { code: unknown; body: unknown };
  if (typeof code !== "number") return undefined;
  let status: { message?: unknown; reason?: unknown } | undefined;
  try {
    status = typeof body === "string" ? (JSON.parse(body) as typeof status) : (body as typeof status);
  } catch {
    status = undefined;
  }
  const message = typeof status?.message === "string" ? status.message : `HTTP ${code}`;
  const reason = typeof status?.reason === "string" ? `${status.reason}: ` : "";
  return `${reason}${message}`;
}

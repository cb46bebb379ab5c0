import { z } from "zod";

/** Machine-readable error codes of the executor API, each with its HTTP status. */
export const ApiErrorCodes = {
  InvalidJSON: 400,
  InvalidRequest: 400,
  Unauthorized: 401,
  NotFound: 404,
  MethodNotAllowed: 405,
  AlreadyExists: 409,
  Conflict: 409,
  PayloadTooLarge: 413,
  UnsupportedMediaType: 415,
  InsufficientStorage: 507,
  Unavailable: 503,
  Internal: 500,
} as const;
export type ApiErrorCode = keyof typeof ApiErrorCodes;

/** One problem with one field of a request. */
export const FieldIssueSchema = z.object({ path: z.string(), message: z.string() });
export type FieldIssue = z.infer<typeof FieldIssueSchema>;

/** The JSON body of every error reply. */
export const ApiErrorBodySchema = z.object({
  code: z.string(),
  message: z.string(),
  details: z.array(FieldIssueSchema).optional(),
}).meta({ id: "ApiError" });
export type ApiErrorBody = z.infer<typeof ApiErrorBodySchema>;

/** An error the API reports to its client; the code decides the HTTP status. */
export class ApiError extends Error {
  readonly code: ApiErrorCode;
  readonly details: FieldIssue[] | undefined;

  constructor(code: ApiErrorCode, message: string, details?: FieldIssue[]) {
    super(message);
    this.name = "ApiError";
    this.code = code;
    this.details = details;
  }

  get httpStatus(): number {
    return ApiErrorCodes[this.code];
  }

  toBody(): ApiErrorBody {
    return this.details ? { code: this.code, message: this.message, details: this.details } : { code: this.code, message: this.message };
  }
}

/** Renders a zod error as field issues with dotted paths (`[3].spec.process.command`). */
export function fieldIssues(error: z.ZodError, prefix = ""): FieldIssue[] {
  return error.issues.map((issue) => ({
    path: formatPath(prefix, issue.path),
    message: issue.message,
  }));
}

function formatPath(prefix: string, path: readonly PropertyKey[]): string {
  let text = prefix;
  for (const key of path) {
    if (typeof key === "number") text += `[${key}]`;
    else text += text === "" ? String(key) : `.${String(key)}`;
  }
  return text === "" ? "(body)" : text;
}

/** An ApiError of code InvalidRequest whose message names the first offending field. */
export function invalidRequest(error: z.ZodError, what = "request"): ApiError {
  const details = fieldIssues(error);
  const first = details[0];
  const message = first ? `invalid ${what}: ${first.path}: ${first.message}` : `invalid ${what}`;
  return new ApiError("InvalidRequest", message, details);
}

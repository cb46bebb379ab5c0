import { ApiError } from "@org/task-core";

/** Maps a failed write of the data dir to the API: a full disk is 507, anything else 500 with the cause. */
export function storageError(error: unknown, what: string): ApiError {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === "ENOSPC" || code === "EDQUOT") {
    return new ApiError("InsufficientStorage", `${what}: the data dir is full (${code}); running tasks are not affected`);
  }
  return new ApiError("Internal", `${what}: ${(error as Error).message}`);
}

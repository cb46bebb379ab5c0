import {
  ApiError,
  TaskStartError,
  type ExecutorMode,
  type ExitResult,
  type LogFile,
  type RuntimeHandle,
  type RuntimeObservation,
  type TaskRuntime,
  type TaskSpec,
} from "@org/task-core";

/** Checks a spec against what a runtime can do here (volumes, limits); throws ApiError for the client. */
export type SpecCheck = (spec: TaskSpec) => void;

interface RuntimeEntry {
  runtime: TaskRuntime;
  check?: SpecCheck;
  /** Removes what the runtime still holds for tasks that no longer exist (called after recovery). */
  collectGarbage?: (liveTaskNames: Set<string>) => Promise<void>;
}

/**
 * The composite dispatch: `spec.process` goes to the process runtime (or the sidecar runtime in sidecar mode),
 * `spec.container` to the CRI runtime when container mode is on.
 */
export class RuntimeSet {
  constructor(
    private readonly processEntry: RuntimeEntry,
    private readonly containerEntry: RuntimeEntry | undefined,
  ) {}

  /** The kinds of task this executor runs, as `/health` reports them. */
  get modes(): ExecutorMode[] {
    return this.containerEntry ? ["process", "container"] : ["process"];
  }

  /** The runtime for a new task; ApiError 400 when the spec asks for a mode that is off or cannot be met. */
  forSpec(spec: TaskSpec): TaskRuntime {
    if (spec.container !== undefined) {
      if (!this.containerEntry) {
        throw new ApiError(
          "InvalidRequest",
          "container tasks need container mode: start the executor with --enable-container-mode=true (and --cri-socket)",
          [{ path: "spec.container", message: "container mode is off on this executor" }],
        );
      }
      this.containerEntry.check?.(spec);
      return this.containerEntry.runtime;
    }
    this.processEntry.check?.(spec);
    return this.processEntry.runtime;
  }

  /**
   * The runtime a recovered task was started with. When that mode is off now, a stand-in that reports the task
   * as lost, so the executor still starts and lists it.
   */
  byName(name: string): TaskRuntime {
    const entry = [this.processEntry, this.containerEntry].find((candidate) => candidate?.runtime.name === name);
    return entry?.runtime ?? new UnavailableRuntime(name);
  }

  async collectGarbage(liveTaskNames: Set<string>): Promise<void> {
    await this.containerEntry?.collectGarbage?.(liveTaskNames);
  }

  async close(): Promise<void> {
    await Promise.all([this.processEntry.runtime.close(), this.containerEntry?.runtime.close()]);
  }
}

/** Stands in for a runtime whose mode is off now: its tasks cannot be started, recovered or read. */
class UnavailableRuntime implements TaskRuntime {
  constructor(readonly name: string) {}

  private get reason(): string {
    return `the ${this.name} runtime is not enabled on this executor`;
  }

  async start(): Promise<RuntimeHandle> {
    throw new TaskStartError("StartError", this.reason, 1);
  }
  async inspect(): Promise<RuntimeObservation> {
    return { phase: "missing", message: this.reason };
  }
  wait(): Promise<ExitResult> {
    return Promise.reject(new Error(this.reason));
  }
  async stop(): Promise<void> {}
  async destroy(): Promise<void> {}
  async recover(): Promise<RuntimeHandle | undefined> {
    throw new Error(this.reason);
  }
  logFiles(): LogFile[] {
    return [];
  }
  async close(): Promise<void> {}
}

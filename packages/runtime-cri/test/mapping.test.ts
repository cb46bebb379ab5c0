// Pure mapping: spec → CRI configs, resources, volumes, ContainerStatus → ExitResult, and the proto subset itself.
import * as protoLoader from "@grpc/proto-loader";
import type { RuntimeTask } from "@org/task-core";
import { describe, expect, it } from "vitest";
import { CRI_PROTO_PATH } from "../src/cri-client.js";
import {
  checkVolumes,
  containerConfig,
  UnknownVolumeError,
  criResources,
  nanosToIso,
  resultFromStatus,
  sandboxConfig,
  startErrorExitCode,
  unknownVolumes,
} from "../src/mapping.js";
import type { ContainerStatus } from "../src/cri-client.js";

const task: RuntimeTask = {
  name: "job-1",
  dir: "/data/tasks/job-1",
  spec: {
    container: {
      image: "localhost/busybox:test",
      command: ["sh", "-c"],
      args: ["echo hi"],
      env: [{ name: "A", value: "1" }, { name: "B", value: "" }],
      workingDir: "/work",
      volumeMounts: [
        { name: "data", mountPath: "/data" },
        { name: "cfg", mountPath: "/etc/cfg", readOnly: true },
      ],
      resources: { limits: { cpu: "1500m", memory: "128Mi" } },
    },
  },
};
const volumes = { data: "/srv/data", cfg: "/srv/cfg" };

function status(fields: Partial<ContainerStatus>): ContainerStatus {
  return {
    id: "c1",
    state: "CONTAINER_EXITED",
    created_at: "1700000000000000000",
    started_at: "1700000001000000000",
    finished_at: "1700000002500000000",
    exit_code: 0,
    reason: "Completed",
    message: "",
    labels: {},
    log_path: "/data/tasks/job-1/container.log",
    ...fields,
  };
}

const noContext = { timedOut: false, timeoutSeconds: 0, logTruncated: false };

describe("unknownVolumes", () => {
  it("lists names the executor was not configured with, once each", () => {
    const spec = { image: "x", volumeMounts: [{ name: "a", mountPath: "/a" }, { name: "b", mountPath: "/b" }, { name: "a", mountPath: "/c" }] };
    expect(unknownVolumes(spec, { b: "/srv/b" })).toEqual(["a"]);
    expect(unknownVolumes({ container: spec }, { a: "/1", b: "/2" })).toEqual([]);
    expect(unknownVolumes({ process: { command: ["x"] } }, {})).toEqual([]);
    expect(unknownVolumes({ image: "x", volumeMounts: [{ name: "toString", mountPath: "/t" }] }, {})).toEqual(["toString"]);
  });
});

describe("criResources", () => {
  it("turns cores into a CFS quota over a 100 ms period and memory into bytes", () => {
    expect(criResources({ limits: { cpu: "500m" } })).toEqual({ cpu_period: 100000, cpu_quota: 50000 });
    expect(criResources({ limits: { cpu: "2" } })).toEqual({ cpu_period: 100000, cpu_quota: 200000 });
    expect(criResources({ limits: { cpu: "1m" } })).toEqual({ cpu_period: 100000, cpu_quota: 1000 });
    expect(criResources({ limits: { memory: "64Mi" } })).toEqual({ memory_limit_in_bytes: 67108864 });
    expect(criResources({ limits: { memory: "1G", cpu: "0.25" } })).toEqual({
      cpu_period: 100000,
      cpu_quota: 25000,
      memory_limit_in_bytes: 1e9,
    });
  });

  it("sets nothing without cpu or memory limits", () => {
    expect(criResources(undefined)).toBeUndefined();
    expect(criResources({})).toBeUndefined();
    expect(criResources({ limits: { pids: 10 } })).toBeUndefined();
  });
});

describe("sandboxConfig", () => {
  it("labels the sandbox, logs into the task dir and uses the node network with a pod PID namespace", () => {
    expect(sandboxConfig(task, "exec-1", "uid-1")).toEqual({
      metadata: { name: "job-1", uid: "uid-1", namespace: "task-executor", attempt: 0 },
      log_directory: "/data/tasks/job-1",
      labels: { "task-executor.io/executor-id": "exec-1", "task-executor.io/task-name": "job-1" },
      linux: { security_context: { namespace_options: { network: "NODE", pid: "POD", ipc: "POD" } } },
    });
  });
});

describe("containerConfig", () => {
  it("maps command, args, env, workingDir, mounts, limits, labels and the log path", () => {
    expect(containerConfig(task, "exec-1", volumes)).toEqual({
      metadata: { name: "task", attempt: 0 },
      image: { image: "localhost/busybox:test" },
      command: ["sh", "-c"],
      args: ["echo hi"],
      working_dir: "/work",
      envs: [{ key: "A", value: "1" }, { key: "B", value: "" }],
      mounts: [
        { container_path: "/data", host_path: "/srv/data", readonly: false },
        { container_path: "/etc/cfg", host_path: "/srv/cfg", readonly: true },
      ],
      labels: { "task-executor.io/executor-id": "exec-1", "task-executor.io/task-name": "job-1" },
      log_path: "container.log",
      linux: {
        resources: { cpu_period: 100000, cpu_quota: 150000, memory_limit_in_bytes: 134217728 },
        security_context: { namespace_options: { network: "NODE", pid: "POD", ipc: "POD" } },
      },
    });
  });

  it("leaves command, args and workingDir to the image when the spec has none", () => {
    const config = containerConfig({ ...task, spec: { container: { image: "img" } } }, "e", {});
    expect(config).toMatchObject({ command: [], args: [], working_dir: "", envs: [], mounts: [] });
    expect(config.linux.resources).toBeUndefined();
  });

  it("refuses unknown volumes", () => {
    expect(() => containerConfig(task, "e", { data: "/srv/data" })).toThrow(/cfg/);
  });
});

describe("checkVolumes: the one volume check", () => {
  it("names the unknown volumes, the first one's mount index and the configured ones", () => {
    const spec = { image: "x", volumeMounts: [{ name: "ok", mountPath: "/a" }, { name: "nope", mountPath: "/b" }, { name: "gone", mountPath: "/c" }] };
    const error = (() => {
      try {
        checkVolumes(spec, { ok: "/srv/ok" });
      } catch (caught) {
        return caught;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(UnknownVolumeError);
    expect(error).toMatchObject({ names: ["nope", "gone"], index: 1, configured: ["ok"], message: "unknown volume 'nope', 'gone': configured volumes are ok (--volume NAME=PATH)" });
    expect(() => checkVolumes(spec, { ok: "/1", nope: "/2", gone: "/3" })).not.toThrow();
    expect(() => checkVolumes({ process: { command: ["x"] } }, {})).not.toThrow();
  });

  it("is what containerConfig applies", () => {
    expect(() => containerConfig(task, "e", {})).toThrow(UnknownVolumeError);
  });
});

describe("resultFromStatus", () => {
  it("reports a plain exit with the runtime's times", () => {
    expect(resultFromStatus(status({}), noContext)).toEqual({
      exitCode: 0,
      reason: "Succeeded",
      startedAt: "2023-11-14T22:13:21.000Z",
      finishedAt: "2023-11-14T22:13:22.500Z",
    });
    expect(resultFromStatus(status({ exit_code: 3, reason: "Error" }), noContext)).toMatchObject({ exitCode: 3, reason: "Failed" });
  });

  it("never finishes before it started", () => {
    const result = resultFromStatus(status({ finished_at: "1700000000999000000" }), noContext);
    expect(result.finishedAt).toBe(result.startedAt);
  });

  it("reports OOMKilled, timeouts (137), start errors and truncated logs", () => {
    expect(resultFromStatus(status({ exit_code: 137, reason: "OOMKilled" }), noContext)).toMatchObject({
      exitCode: 137,
      reason: "OOMKilled",
    });
    expect(resultFromStatus(status({ exit_code: 143 }), { ...noContext, timedOut: true, timeoutSeconds: 5 })).toMatchObject({
      exitCode: 137,
      reason: "TaskTimeout",
      message: "task exceeded its timeout of 5s and was killed",
    });
    const startError = status({ started_at: "0", exit_code: 128, reason: "StartError", message: 'exec: "x": executable file not found in $PATH' });
    expect(resultFromStatus(startError, noContext)).toMatchObject({ exitCode: 127, reason: "StartError" });
    expect(resultFromStatus(startError, noContext).startedAt).toBeUndefined();
    expect(resultFromStatus(status({}), { ...noContext, logTruncated: true }).logTruncated).toBe(true);
  });
});

describe("small helpers", () => {
  it("converts nanosecond timestamps without losing precision to doubles", () => {
    expect(nanosToIso("1700000000123456789")).toBe("2023-11-14T22:13:20.123Z");
    expect(nanosToIso("0")).toBeUndefined();
    expect(nanosToIso(undefined)).toBeUndefined();
  });

  it("gives start errors the shell's exit codes", () => {
    expect(startErrorExitCode('exec: "nope": executable file not found in $PATH')).toBe(127);
    expect(startErrorExitCode("open /x: no such file or directory")).toBe(127);
    expect(startErrorExitCode("exec /bin/x: permission denied")).toBe(126);
    expect(startErrorExitCode("something else")).toBe(128);
  });
});

describe("proto/cri-subset.proto", () => {
  const definition = protoLoader.loadSync(CRI_PROTO_PATH, { keepCase: true });
  function fieldNumbers(message: string): Record<string, number> {
    const type = (definition[`runtime.v1.${message}`] as { type: { field: { name: string; number: number }[] } }).type;
    return Object.fromEntries(type.field.map((f) => [f.name, f.number]));
  }

  it("declares the services in package runtime.v1 with the calls the runtime uses", () => {
    const runtime = definition["runtime.v1.RuntimeService"] as Record<string, unknown>;
    const image = definition["runtime.v1.ImageService"] as Record<string, unknown>;
    for (const call of ["Version", "RunPodSandbox", "StopPodSandbox", "RemovePodSandbox", "ListPodSandbox", "CreateContainer",
      "StartContainer", "StopContainer", "RemoveContainer", "ListContainers", "ContainerStatus", "ReopenContainerLog"]) {
      expect(runtime[call], call).toBeDefined();
    }
    expect(Object.keys(image).sort()).toEqual(["ImageStatus", "PullImage"]);
  });

  it("keeps the protocol's field numbers", () => {
    expect(fieldNumbers("PodSandboxConfig")).toEqual({ metadata: 1, hostname: 2, log_directory: 3, labels: 6, annotations: 7, linux: 8 });
    expect(fieldNumbers("ContainerConfig")).toMatchObject({ image: 2, command: 3, args: 4, working_dir: 5, envs: 6, mounts: 7, labels: 9, log_path: 11, linux: 15 });
    expect(fieldNumbers("LinuxContainerResources")).toMatchObject({ cpu_period: 1, cpu_quota: 2, memory_limit_in_bytes: 4 });
    expect(fieldNumbers("NamespaceOption")).toEqual({ network: 1, pid: 2, ipc: 3, target_id: 4 });
    expect(fieldNumbers("LinuxContainerSecurityContext")).toMatchObject({ namespace_options: 3 });
    expect(fieldNumbers("ContainerStatus")).toMatchObject({ state: 3, started_at: 5, finished_at: 6, exit_code: 7, reason: 10, message: 11 });
    expect(fieldNumbers("PullImageRequest")).toEqual({ image: 1, sandbox_config: 3 });
    expect(fieldNumbers("StopContainerRequest")).toEqual({ container_id: 1, timeout: 2 });
  });
});

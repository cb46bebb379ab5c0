import { describe, expect, it, vi } from "vitest";
import { parseConfig } from "../../src/config.js";
import { parseBoolean, parseByteSize, parseDuration, parseListenAddress } from "../../src/units.js";

describe("parseDuration", () => {
  it.each([
    ["500ms", 500],
    ["10s", 10_000],
    ["1m30s", 90_000],
    ["2h", 7_200_000],
    ["1.5s", 1500],
    ["3", 3000],
    ["", undefined],
    ["10x", undefined],
    ["s", undefined],
    ["1s junk", undefined],
  ])("%j → %s", (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });
});

describe("parseByteSize / parseBoolean / parseListenAddress", () => {
  it.each([
    ["0", 0],
    ["1024", 1024],
    ["10Mi", 10 * 2 ** 20],
    ["1G", 1e9],
    ["-1", undefined],
  ])("size %j → %s", (text, bytes) => {
    expect(parseByteSize(text)).toBe(bytes);
  });
  it.each([
    ["true", true],
    ["FALSE", false],
    ["1", true],
    ["maybe", undefined],
  ])("bool %j → %s", (text, value) => {
    expect(parseBoolean(text)).toBe(value);
  });
  it.each([
    ["0.0.0.0:5758", { host: "0.0.0.0", port: 5758 }],
    ["127.0.0.1:0", { host: "127.0.0.1", port: 0 }],
    ["[::1]:80", { host: "::1", port: 80 }],
    [":8080", { host: "0.0.0.0", port: 8080 }],
    ["host", undefined],
    ["a:99999", undefined],
  ])("listen %j", (text, value) => {
    expect(parseListenAddress(text)).toEqual(value);
  });
});

describe("parseConfig", () => {
  const ENV_NAMES = ["DATA_DIR", "LISTEN_ADDR", "ENABLE_SIDECAR_MODE", "MAIN_CONTAINER_NAME", "ENABLE_CONTAINER_MODE", "CRI_SOCKET", "RECONCILE_INTERVAL", "MAX_CONCURRENT_TASKS", "STOP_GRACE_PERIOD", "LOG_LEVEL", "LOG_FORMAT", "RETAIN_PER_GROUP"];
  /** Runs `parse` with exactly `env` among the executor's variables. */
  function withEnv<T>(env: Record<string, string>, parse: () => T): T {
    for (const name of ENV_NAMES) vi.stubEnv(name, env[name]);
    try {
      return parse();
    } finally {
      vi.unstubAllEnvs();
    }
  }

  it("has the guide's defaults", () => {
    const config = withEnv({}, () => parseConfig([]));
    expect(config).toMatchObject({
      dataDir: "/var/lib/sandbox/tasks",
      listen: { host: "0.0.0.0", port: 5758 },
      enableSidecarMode: false,
      mainContainerName: "main",
      enableContainerMode: false,
      criSocket: "/var/run/containerd/containerd.sock",
      reconcileIntervalMs: 500,
      maxConcurrentTasks: 0,
      stopGracePeriodMs: 10_000,
      retainPerGroup: 500,
      maxLogBytesPerTask: 10 * 2 ** 20,
      maxRequestBytes: 4 * 2 ** 20,
      retentionIntervalMs: 30_000,
      finishedTaskTtlMs: 0,
      maxDataDirBytes: 0,
      logLevel: "info",
      logFormat: "json",
      stopTasksOnShutdown: false,
      volumes: {},
    });
  });

  it("reads the environment and lets flags win", () => {
    const env = { DATA_DIR: "/env", LISTEN_ADDR: "127.0.0.1:1", ENABLE_SIDECAR_MODE: "true", STOP_GRACE_PERIOD: "3" };
    expect(withEnv(env, () => parseConfig([]))).toMatchObject({ dataDir: "/env", listen: { port: 1 }, enableSidecarMode: true, stopGracePeriodMs: 3000 });
    expect(withEnv(env, () => parseConfig(["--data-dir=/flag", "--enable-sidecar-mode=false"]))).toMatchObject({ dataDir: "/flag", enableSidecarMode: false });
    expect(withEnv({}, () => parseConfig(["--enable-sidecar-mode"]))).toMatchObject({ enableSidecarMode: true });
    expect(() => withEnv({ LOG_FORMAT: "yaml" }, () => parseConfig([]))).toThrow(/--log-format.*LOG_FORMAT/);
  });

  it("collects volumes and rejects malformed ones", () => {
    expect(withEnv({}, () => parseConfig(["--volume", "data=/srv/data", "--volume=cache=/tmp/c"])).volumes).toEqual({ data: "/srv/data", cache: "/tmp/c" });
    expect(() => withEnv({}, () => parseConfig(["--volume=data:relative"]))).toThrow("--volume");
  });

  it("requires TLS cert and key together", () => {
    expect(() => withEnv({}, () => parseConfig(["--tls-cert-file=/c.pem"]))).toThrow("--tls-key-file");
  });
});

import { describe, expect, it } from "vitest";
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
  it("has the guide's defaults", () => {
    const config = parseConfig([], {});
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
    });
  });

  it("reads the environment and lets flags win", () => {
    const env = { DATA_DIR: "/env", LISTEN_ADDR: "127.0.0.1:1", ENABLE_SIDECAR_MODE: "true" };
    expect(parseConfig([], env)).toMatchObject({ dataDir: "/env", listen: { port: 1 }, enableSidecarMode: true });
    expect(parseConfig(["--data-dir=/flag", "--enable-sidecar-mode=false"], env)).toMatchObject({ dataDir: "/flag", enableSidecarMode: false });
    expect(parseConfig(["--enable-sidecar-mode"], {})).toMatchObject({ enableSidecarMode: true });
  });

  it("collects volumes and rejects malformed ones", () => {
    expect(parseConfig(["--volume", "data=/srv/data", "--volume=cache=/tmp/c"], {}).volumes).toEqual({ data: "/srv/data", cache: "/tmp/c" });
    expect(() => parseConfig(["--volume=data:relative"], {})).toThrow("--volume");
  });

  it("requires TLS cert and key together", () => {
    expect(() => parseConfig(["--tls-cert-file=/c.pem"], {})).toThrow("--tls-key-file");
  });
});

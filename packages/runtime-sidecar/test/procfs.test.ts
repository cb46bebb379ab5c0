import { describe, expect, it } from "vitest";
import {
  missingCapabilities,
  parseEffectiveCapabilities,
  parseEffectiveIds,
  parseEnviron,
  parseStat,
  type CapabilityName,
} from "../src/procfs.js";

const statTail = "0 -1 4194304 96 0 0 0 0 0 0 0 20 0 1 0 99697 3133440 360 18446744073709551615 0 0 0";

describe("parseEnviron", () => {
  it.each([
    ["empty (kernel thread)", "", []],
    ["trailing NUL", "A=1\0B=2\0", ["A=1", "B=2"]],
    ["no trailing NUL", "A=1\0B=x=y", ["A=1", "B=x=y"]],
    ["empty value and spaces", "A=\0B=a b\0", ["A=", "B=a b"]],
    ["newline in a value", "A=line1\nline2\0", ["A=line1\nline2"]],
  ])("%s", (_, content, expected) => {
    expect(parseEnviron(content)).toEqual(expected);
  });
});

describe("parseStat", () => {
  it.each([
    ["plain name", `10965 (cat) R 10963 10963 3556 ${statTail}`, { pid: 10965, ppid: 10963, startTime: 99697 }],
    ["name with spaces and parens", `42 (a) b (c)) S 7 42 42 ${statTail}`, { pid: 42, ppid: 7, startTime: 99697 }],
    ["pid 1, ppid 0", `1 (init) S 0 1 1 ${statTail}`, { pid: 1, ppid: 0, startTime: 99697 }],
    ["truncated", "12 (x) S 1 12", undefined],
    ["garbage", "nonsense", undefined],
    ["empty (vanished)", "", undefined],
  ])("%s", (_, content, expected) => {
    expect(parseStat(content)).toEqual(expected);
  });
});

describe("parseEffectiveIds", () => {
  it.each([
    ["root", "Name:\tsh\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\n", { uid: 0, gid: 0 }],
    ["effective differs from real", "Uid:\t1000\t33\t33\t33\nGid:\t1000\t44\t44\t44\n", { uid: 33, gid: 44 }],
    ["Gid line missing", "Uid:\t1\t1\t1\t1\n", undefined],
    ["empty", "", undefined],
  ])("%s", (_, content, expected) => {
    expect(parseEffectiveIds(content)).toEqual(expected);
  });
});

describe("capabilities", () => {
  const needed: CapabilityName[] = ["CAP_SYS_ADMIN", "CAP_SYS_PTRACE", "CAP_SETUID"];
  it.each([
    ["all (root)", "CapPrm:\t0\nCapEff:\t000001ffffffffff\n", []],
    ["docker default set", "CapEff:\t00000000a80425fb\n", ["CAP_SYS_ADMIN", "CAP_SYS_PTRACE"]],
    ["only SYS_ADMIN and SYS_PTRACE", "CapEff:\t0000000000280000\n", ["CAP_SETUID"]],
    ["none", "CapEff:\t0000000000000000\n", needed],
  ])("%s", (_, status, missing) => {
    const set = parseEffectiveCapabilities(status);
    expect(set).toBeDefined();
    expect(missingCapabilities(set ?? 0n, needed)).toEqual(missing);
  });

  it("has no set without a CapEff line", () => {
    expect(parseEffectiveCapabilities("CapPrm:\t0\n")).toBeUndefined();
  });
});

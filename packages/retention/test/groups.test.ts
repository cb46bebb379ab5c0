import { describe, expect, it } from "vitest";
import { GLOBAL_GROUP, groupOf } from "../src/index.js";

describe("groupOf", () => {
  it.each<[string, Record<string, string> | undefined, string]>([
    ["no labels", undefined, GLOBAL_GROUP],
    ["no app label", { tier: "web" }, GLOBAL_GROUP],
    ["app.kubernetes.io/name", { "app.kubernetes.io/name": "shop" }, "shop"],
    ["app", { app: "legacy" }, "legacy"],
    ["app.kubernetes.io/name wins over app", { app: "legacy", "app.kubernetes.io/name": "shop" }, "shop"],
    ["an empty name falls back to app", { app: "legacy", "app.kubernetes.io/name": "" }, "legacy"],
    ["empty values name no app", { app: "", "app.kubernetes.io/name": "" }, GLOBAL_GROUP],
  ])("%s", (_name, labels, expected) => {
    expect(groupOf(labels)).toBe(expected);
  });
});

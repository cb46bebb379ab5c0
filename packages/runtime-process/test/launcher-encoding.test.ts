import { describe, expect, it } from "vitest";
import { encodeRequest } from "../src/launcher.js";

describe("encodeRequest", () => {
  it("frames each field as a netstring whose length counts UTF-8 bytes, not characters", () => {
    expect(encodeRequest(["START", "", "é€", "a,b:c"]).toString("utf8")).toBe("5:START,0:,5:é€,5:a,b:c,");
    expect(encodeRequest(["é"]).length).toBe("2:é,".length + 1);
  });
});

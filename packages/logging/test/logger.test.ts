// The logger formats and passes on only lines at or above its level (the level of the moment).
import { describe, expect, it } from "vitest";
import { createLogger } from "../src/index.js";

function formattedLines(logger: ReturnType<typeof createLogger>): Array<Record<string, unknown>> {
  const lines: Array<Record<string, unknown>> = [];
  logger.on("data", (info: Record<string, unknown>) => lines.push(info));
  return lines;
}

describe("createLogger", () => {
  it("drops lines below the level before formatting them, and follows a change of level", () => {
    const logger = createLogger({ logLevel: "warn", logFormat: "json" });
    logger.transports.forEach((transport) => (transport.silent = true));
    const lines = formattedLines(logger);
    logger.debug("not formatted", { n: 1 });
    logger.info("not formatted either");
    logger.warn("formatted", { n: 2 });
    expect(lines.map((line) => line.message)).toEqual(["formatted"]);
    expect(lines[0]).toEqual(expect.objectContaining({ level: "warn", n: 2, timestamp: expect.any(String) }));
    logger.level = "debug";
    logger.debug("now formatted", { n: 3 });
    expect(lines.map((line) => line.message)).toEqual(["formatted", "now formatted"]);
    logger.level = "warn";
    const child = logger.child({ component: "child" });
    child.debug("not formatted");
    child.warn("from the child");
    expect(lines.slice(2)).toEqual([expect.objectContaining({ message: "from the child", component: "child" })]);
  });
});

// Sums the vitest JSON reports of all packages into one line and fails when a report is missing or red, or (with
// CI=true) when any test was skipped.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

let passed = 0;
let failed = 0;
let skipped = 0;
const missing = [];
const failures = [];
for (const area of ["packages", "apps"]) {
  for (const name of readdirSync(area)) {
    const dir = join(area, name);
    const manifest = join(dir, "package.json");
    if (!existsSync(manifest) || !JSON.parse(readFileSync(manifest, "utf8")).scripts?.test) continue;
    const results = join(dir, "test-results");
    if (!existsSync(join(results, "vitest.json"))) {
      missing.push(dir);
      continue;
    }
    // vitest.json of `pnpm test`, and the reports of suites run apart from it (the image test's images.json).
    for (const file of readdirSync(results).filter((name) => name.endsWith(".json"))) {
      const result = JSON.parse(readFileSync(join(results, file), "utf8"));
      passed += result.numPassedTests;
      failed += result.numFailedTests;
      skipped += result.numPendingTests + (result.numTodoTests ?? 0);
      for (const suite of result.testResults ?? []) {
        const where = suite.name.replace(`${process.cwd()}/`, "");
        for (const test of suite.assertionResults ?? []) {
          if (test.status === "failed") failures.push({ where, name: test.fullName, messages: test.failureMessages ?? [] });
        }
        // A file that fails before its tests run (an import or a hook) has no failed assertion of its own.
        if (suite.status === "failed" && !(suite.assertionResults ?? []).some((test) => test.status === "failed")) {
          failures.push({ where, name: "(the file itself)", messages: [suite.message ?? ""] });
        }
      }
    }
  }
}
// The failures come last, next to the summary line, so that the tail of a long run names them.
for (const failure of failures) {
  console.log(`FAILED ${failure.where} > ${failure.name}`);
  const message = failure.messages.join("\n").split("\n").slice(0, 12).join("\n    ");
  if (message.trim()) console.log(`    ${message}`);
}
if (missing.length) console.log(`no test report from: ${missing.join(", ")}`);
console.log(`tests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
// In CI every suite must run: a skipped test there is a test that could not fail.
const skippedInCi = process.env.CI === "true" && skipped > 0;
if (skippedInCi) console.log(`CI: ${skipped} test(s) skipped; every real-environment suite must run in CI`);
process.exit(failed > 0 || missing.length > 0 || passed === 0 || skippedInCi ? 1 : 0);

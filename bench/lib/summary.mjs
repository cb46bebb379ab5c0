/** Builds results/SUMMARY.md from the scenario result files in results/. */
import { existsSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const verdict = (met, bound) => (met === true ? "met" : met === false ? "**not met**" : bound === "recorded" ? "recorded" : "not measured");

function machineLine(result) {
  const m = result.machine ?? {};
  const load = m.loadAverageBefore !== undefined ? `, load average ${m.loadAverageBefore} before / ${m.loadAverageAfter} after on ${m.cpus} cores` : "";
  const busy = m.loaded ? " — **taken on a loaded machine** (other work was running; figures are pessimistic and noisy)" : "";
  return `${result.date?.slice(0, 16).replace("T", " ")} UTC, ${result.quick ? "`--quick`" : "full"} run, ${Math.round(result.elapsedSeconds ?? 0)} s${load}${busy}`;
}

export function writeSummary(resultsDir, order) {
  const results = [];
  for (const file of readdirSync(resultsDir).filter((f) => f.endsWith(".json")).sort()) {
    let data;
    try {
      data = JSON.parse(readFileSync(join(resultsDir, file), "utf8"));
    } catch {
      continue;
    }
    if (typeof data.scenario !== "string") {
      results.push({ foreign: true, file, date: data.date });
      continue;
    }
    results.push(data);
  }
  const ours = results.filter((r) => !r.foreign).sort((a, b) => order.indexOf(a.scenario) - order.indexOf(b.scenario));
  const lines = [
    "# Benchmark summary",
    "",
    "Written by `pnpm bench` (see the README's Benchmarks section). Each scenario runs the built executor (and, for",
    "the cluster, the controller) as separate processes on loopback; every target is either a ratio against a",
    "baseline measured in the same run or an absolute bound. Benchmarks are not tests: nothing here fails a build.",
    "What each optimization bought, and what the profiles show about the targets still missed:",
    "[../optimizations.md](../optimizations.md).",
    "",
    "## At a glance",
    "",
    "| Scenario | Target | Measured | Verdict |",
    "|---|---|---|---|",
  ];
  for (const r of ours) {
    if (r.status !== "ran") {
      lines.push(`| ${r.title} | — | ${r.status === "not-run" ? "not run here" : "failed"}: ${r.reason ?? ""} | not measured |`);
      continue;
    }
    for (const t of r.targets ?? []) lines.push(`| ${r.title} | ${t.what}: ${t.bound} | ${t.measured} | ${verdict(t.met, t.bound)} |`);
  }
  lines.push("");
  const all = ours.flatMap((r) => (r.status === "ran" ? (r.targets ?? []) : [])).filter((t) => t.bound !== "recorded");
  const notRun = ours.filter((r) => r.status !== "ran").map((r) => r.scenario);
  lines.push(
    `**${all.filter((t) => t.met === true).length} of ${all.length} targets met**` +
      (notRun.length ? `; not run or failed: ${notRun.join(", ")}` : "") +
      `. Runs: ${[...new Set(ours.map((r) => (r.quick ? "`--quick`" : "full")))].join(" and ")}, on ${ours[0]?.machine?.cpus ?? "?"} cores, Node ${ours[0]?.machine?.node ?? "?"}.`,
    "",
  );
  const loaded = ours.filter((r) => r.machine?.loaded);
  if (loaded.length) {
    lines.push(
      `**Loaded machine.** ${loaded.map((r) => r.scenario).join(", ")} ran while the machine was busy with other work ` +
        "(the load averages are in each section). Ratios against a baseline taken in the same run are the more telling figures then;",
      "absolute bounds are pessimistic.",
      "",
    );
  }
  for (const r of ours) {
    lines.push(`## ${r.title} (\`--scenario ${r.scenario}\`)`, "", machineLine(r), "");
    if (r.status !== "ran") {
      lines.push(`**${r.status === "not-run" ? "Not run" : "Failed"}**: ${r.reason}`, "");
      continue;
    }
    if (r.method) lines.push(r.method, "");
    if (r.targets?.length) {
      lines.push("| Target | Bound | Measured | Verdict |", "|---|---|---|---|");
      for (const t of r.targets) lines.push(`| ${t.what} | ${t.bound} | ${t.measured} | ${verdict(t.met, t.bound)} |`);
      lines.push("");
    }
    for (const h of r.highlights ?? []) lines.push(`- ${h}`);
    if (r.highlights?.length) lines.push("");
    for (const n of r.notes ?? []) lines.push(`> ${n}`, "");
    for (const chart of r.charts ?? []) {
      if (existsSync(join(resultsDir, chart.file))) lines.push(`![${chart.title}](${chart.file})`, "");
    }
    lines.push(`Full figures: [${r.scenario}.json](${r.scenario}.json).`, "");
  }
  for (const f of results.filter((r) => r.foreign)) {
    lines.push(`*${f.file}* (${f.date ?? "undated"}) was not written by the suite (e.g. the executor's load test with RECORD_LOAD_RESULTS=1); it is not summarised.`, "");
  }
  writeFileSync(join(resultsDir, "SUMMARY.md"), `${lines.join("\n").trimEnd()}\n`);
}

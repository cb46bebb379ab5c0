// The benchmark suite. Usage: pnpm bench [--quick] [--scenario NAME]... [--list]
// Runs each scenario against the built apps as separate processes on loopback and writes results/<scenario>.json,
// the scenario's SVG charts and results/SUMMARY.md (which covers every result file present).
import { mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { missingBuild } from "./lib/executor.mjs";
import { loadAverage } from "./lib/procstat.mjs";
import { round } from "./lib/stats.mjs";
import { writeSummary } from "./lib/summary.mjs";

const ORDER = ["throughput", "latency", "load", "scale", "logs", "containers", "cluster"];
const RESULTS = fileURLToPath(new URL("./results/", import.meta.url));

function parseArgs(argv) {
  const options = { quick: false, scenarios: [], list: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--") continue;
    if (arg === "--quick") options.quick = true;
    else if (arg === "--list") options.list = true;
    else if (arg === "--scenario") options.scenarios.push(argv[++i]);
    else if (arg.startsWith("--scenario=")) options.scenarios.push(arg.slice("--scenario=".length));
    else if (arg === "--help" || arg === "-h") {
      console.log(`usage: pnpm bench [--quick] [--scenario NAME]... [--list]\nscenarios: ${ORDER.join(", ")}`);
      process.exit(0);
    } else {
      console.error(`unknown argument ${arg} (try --help)`);
      process.exit(2);
    }
  }
  for (const name of options.scenarios) {
    if (!ORDER.includes(name)) {
      console.error(`unknown scenario ${name}; scenarios: ${ORDER.join(", ")}`);
      process.exit(2);
    }
  }
  return options;
}

const options = parseArgs(process.argv.slice(2));
if (options.list) {
  console.log(ORDER.join("\n"));
  process.exit(0);
}
const selected = options.scenarios.length ? ORDER.filter((name) => options.scenarios.includes(name)) : ORDER;
const unbuilt = missingBuild({ controller: selected.includes("cluster") });
if (unbuilt) {
  console.error(`bench: ${unbuilt}`);
  process.exit(1);
}
mkdirSync(RESULTS, { recursive: true });
// A promise a failed scenario left behind must not end the whole suite.
process.on("unhandledRejection", (error) => console.error(`bench: unhandled rejection: ${error?.stack ?? error}`));
const log = (scenario) => (message) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${scenario}: ${message}`);

for (const name of selected) {
  const scenario = (await import(`./scenarios/${name}.mjs`)).default;
  const say = log(name);
  say(`starting${options.quick ? " (quick)" : ""}`);
  const cores = cpus().length;
  const loadAverageBefore = loadAverage();
  const started = performance.now();
  let outcome;
  try {
    outcome = await scenario.run({ quick: options.quick, log: say });
  } catch (error) {
    say(`failed: ${error.stack ?? error}`);
    outcome = { status: "failed", reason: String(error.message ?? error).split("\n")[0] };
  }
  const loadAverageAfter = loadAverage();
  const { charts = [], ...rest } = outcome;
  for (const file of readdirSync(RESULTS)) if (file.startsWith(`${name}-`) && file.endsWith(".svg")) rmSync(join(RESULTS, file));
  const chartFiles = charts.map((chart) => {
    const file = `${name}-${chart.name}.svg`;
    writeFileSync(join(RESULTS, file), chart.svg);
    return { file, title: chart.title };
  });
  const result = {
    scenario: name,
    title: scenario.title,
    date: new Date().toISOString(),
    quick: options.quick,
    elapsedSeconds: round((performance.now() - started) / 1000, 1),
    machine: {
      cpus: cores,
      node: process.version,
      loadAverageBefore,
      loadAverageAfter,
      // More runnable processes than cores before the scenario began: other work competed for the CPU.
      loaded: (loadAverageBefore ?? 0) > cores,
    },
    status: "ran",
    ...rest,
    charts: chartFiles,
  };
  writeFileSync(join(RESULTS, `${name}.json`), `${JSON.stringify(result, null, 2)}\n`);
  writeSummary(RESULTS, ORDER);
  if (result.status === "ran") {
    for (const t of result.targets ?? []) say(`${t.what}: ${t.measured} (bound ${t.bound}) → ${t.met === true ? "met" : t.met === false ? "NOT met" : t.bound === "recorded" ? "recorded" : "not measured"}`);
  } else say(`${result.status}: ${result.reason}`);
}
console.log(`bench: results in ${RESULTS} (SUMMARY.md)`);

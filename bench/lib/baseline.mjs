/** Runs a baseline job of spawn-baseline.mjs in a fresh plain Node process and returns its JSON result. */
import { execFile, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

const SCRIPT = fileURLToPath(new URL("./spawn-baseline.mjs", import.meta.url));

export function runBaseline(job, timeoutMs = 600_000) {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [SCRIPT, JSON.stringify(job)], { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`baseline ${job.mode} failed: ${error.message}\n${stderr}`));
      else resolve(JSON.parse(stdout.trim().split("\n").pop()));
    });
  });
}

/**
 * Starts spawn-baseline.mjs's bare node:http server (a plain Node process answering every request with `body`).
 * Resolves with its URL and a function that stops it.
 */
export async function startBaselineServer(body) {
  const child = spawn(process.execPath, [SCRIPT, JSON.stringify({ mode: "http-server", body })], { stdio: ["ignore", "pipe", "inherit"] });
  const lines = createInterface({ input: child.stdout });
  const first = await new Promise((resolve, reject) => {
    lines.once("line", resolve);
    child.once("exit", (code) => reject(new Error(`the baseline server exited with ${code}`)));
  });
  lines.close();
  const { port } = JSON.parse(first);
  return {
    url: `http://127.0.0.1:${port}`,
    stop: () => new Promise((resolve) => (child.exitCode !== null ? resolve() : (child.once("exit", resolve), child.kill()))),
  };
}

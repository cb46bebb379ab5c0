/** Runs a baseline job of spawn-baseline.mjs in a fresh plain Node process and returns its JSON result. */
import { execFile } from "node:child_process";
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

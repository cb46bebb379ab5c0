// The baselines: plain child_process.spawn in one plain Node process (nothing else loaded), as a separate process so
// that it shares nothing with the benchmark driver. Usage: node spawn-baseline.mjs '<json job>'; prints one JSON line.
//   {"mode":"throughput","count":N,"concurrency":C,"command":[...]}  N spawns + exit, C in flight: total ms
//   {"mode":"latency","count":N,"command":[...]}                    N sequential: spawn()→'spawn' and spawn()→'exit' ms
//   {"mode":"run","command":[...]}                                  one run: spawn()→'exit' ms
//   {"mode":"http-server","body":"..."}                             a bare node:http server answering every request
//                                                                   with the body as JSON; prints {"port":N}, runs until killed
import { spawn } from "node:child_process";
import { createServer } from "node:http";

const job = JSON.parse(process.argv[2]);
const [file, ...args] = job.command ?? [];

function once() {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    let spawnedAt;
    const child = spawn(file, args, { stdio: "ignore" });
    child.once("spawn", () => (spawnedAt = performance.now()));
    child.once("error", reject);
    child.once("exit", (code, signal) => {
      if (code !== 0) reject(new Error(`${job.command.join(" ")} exited with ${code ?? signal}`));
      else resolve({ spawnMs: spawnedAt - started, exitMs: performance.now() - started });
    });
  });
}

let result;
if (job.mode === "throughput") {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(job.concurrency, job.count) }, async () => {
      while (next < job.count) {
        next++;
        await once();
      }
    }),
  );
  result = { ms: performance.now() - started };
} else if (job.mode === "latency") {
  const spawnMs = [];
  const exitMs = [];
  for (let i = 0; i < job.count; i++) {
    const sample = await once();
    spawnMs.push(sample.spawnMs);
    exitMs.push(sample.exitMs);
  }
  result = { spawnMs, exitMs };
} else if (job.mode === "run") {
  result = await once();
} else if (job.mode === "http-server") {
  const body = Buffer.from(job.body);
  const server = createServer((request, response) => {
    response.writeHead(200, { "content-type": "application/json", "content-length": body.length });
    response.end(body);
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  result = { port: server.address().port };
} else {
  throw new Error(`unknown mode ${job.mode}`);
}
process.stdout.write(`${JSON.stringify(result)}\n`);

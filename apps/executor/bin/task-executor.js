#!/usr/bin/env node
// File operations of many concurrent requests (journal commits, log reads, task directories) share libuv's
// thread pool; its default of 4 threads makes a create wait behind log reads and removals under load. It must be
// sized before the pool's first use, hence before the executor's modules are loaded. An explicit setting wins.
process.env.UV_THREADPOOL_SIZE ??= "16";
await import("../dist/main.js");

#!/usr/bin/env -S GLIBC_TUNABLES=glibc.malloc.mmap_threshold=131072:glibc.malloc.arena_max=2 node --max-semi-space-size=4
// Runs the compiled CLI; `npm run build` (or `npm start`) compiles it.
//
// The flag caps V8's young generation at 4 MiB a semi-space (Node 20's default grows to 16): under load it had
// grown to its largest and stayed so when idle. Measured on the create benchmark (100,000 instances, embedded):
// idle RSS after the load 136 MB without the cap, 122 and 133 MB in two runs with it; creates/s within the
// run-to-run spread. (The rest swung with the agents' 30 s status sweep, ≈30 MB at 100,000 in one statement per host;
// compared in slices since.)
//
// The glibc settings keep freed native memory from staying resident. A fixed mmap threshold: glibc raises its own
// after the first large block is freed, so that later large blocks (the pg client's buffers for a sweep's 1.3 MB
// parameter, a list page's result) come from the heap and stay there after they are freed; fixed at 128 KiB they are
// mapped and unmapped. Two malloc arenas instead of one per thread: each of V8's helper threads kept an arena of its
// own. Measured idle after the benchmark's load (100,000 instances, RSS sampled each second over 31 s, one run each):
// 120.1-125.8 MB without either, 114.5-121.6 with the threshold, 110.0-119.7 with both. PostgreSQL's processes do not
// inherit them (they get an environment of their own).
//
// V8 and glibc read these only at start-up, so they are here and not in the code; `npm start` and the benchmark
// start Kumo through this file.
import('../dist/src/cli/main.js');

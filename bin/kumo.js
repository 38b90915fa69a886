#!/usr/bin/env -S node --max-semi-space-size=4
// Runs the compiled CLI; `npm run build` (or `npm start`) compiles it.
//
// The flag caps V8's young generation at 4 MiB a semi-space (Node 20's default grows to 16): under load it had
// grown to its largest and stayed so when idle. Measured on the create benchmark (100,000 instances, embedded):
// idle RSS after the load 136 MB without the cap, 122 and 133 MB in two runs with it; creates/s within the
// run-to-run spread. (The rest swings with the agents' 30 s status sweep, which allocates ≈30 MB at 100,000.)
// V8 reads the flag only at start-up, so it is here and not in the code; `npm start` and the benchmark start Kumo
// through this file.
import('../dist/src/cli/main.js');

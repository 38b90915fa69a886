#!/usr/bin/env node
// Builds (or finds in the cache) the QEMU test guest image from Debian packages on this machine and prints its paths
// as JSON. Usage: node scripts/build-guest-image.mjs [--cache-dir DIR] [--force]. Needs `npm run build` first.
import { buildGuestImage } from '../dist/src/drivers/qemu/image-builder.js';

const args = process.argv.slice(2);
const cacheIndex = args.indexOf('--cache-dir');
const cacheDir = cacheIndex >= 0 ? args[cacheIndex + 1] : undefined;
const started = Date.now();
const image = await buildGuestImage({ cacheDir, force: args.includes('--force') });
process.stdout.write(`${JSON.stringify({ ...image, elapsedMs: Date.now() - started }, null, 2)}\n`);

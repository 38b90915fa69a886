#!/usr/bin/env node
// Runs every compiled test file with node's test runner. Without DATABASE_URL it first starts an embedded
// PostgreSQL 18 server (the same one `kumo server` runs) in a temporary directory, so the suite always runs on a
// real server; with DATABASE_URL it runs on that server instead. KUMO_TEST_QEMU=0 skips the QEMU driver tests.
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const distTests = join(root, 'dist', 'test');

function findTests(dir) {
  const found = [];
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) found.push(...findTests(path));
    else if (entry.endsWith('.test.js')) found.push(path);
  }
  return found;
}

const filter = process.argv.slice(2);
let files = findTests(distTests).sort();
if (process.env.KUMO_TEST_QEMU === '0') files = files.filter((file) => !/\/qemu[^/]*\.test\.js$/.test(file));
if (filter.length > 0) files = files.filter((file) => filter.some((f) => relative(root, file).includes(f)));
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}

let embedded = null;
let tempDir = null;
const env = { ...process.env };
if (!env.DATABASE_URL) {
  const { startEmbeddedPostgres } = await import(join(root, 'dist/src/store/embedded-postgres-server.js'));
  tempDir = mkdtempSync(join(tmpdir(), 'kumo-test-pg-'));
  chmodSync(tempDir, 0o755);
  embedded = await startEmbeddedPostgres({ dataDir: tempDir, database: 'postgres', maxConnections: 400 });
  env.KUMO_TEST_DATABASE_URL = embedded.connectionString;
  console.log(`# tests on an embedded PostgreSQL server at 127.0.0.1:${embedded.port}`);
} else {
  console.log('# tests on the PostgreSQL server at DATABASE_URL');
}

// Many Kumo processes share one test server: keep each one's pool small so they fit in max_connections.
env.KUMO_DB_POOL_SIZE ??= '6';
const concurrency = process.env.KUMO_TEST_CONCURRENCY ?? '2';
const child = spawn(process.execPath, ['--test', `--test-concurrency=${concurrency}`, '--test-reporter=spec', ...files], {
  stdio: 'inherit',
  env,
});
const code = await new Promise((resolve) => child.on('exit', (status, signal) => resolve(status ?? (signal ? 1 : 0))));
if (embedded) await embedded.stop();
if (tempDir) rmSync(tempDir, { recursive: true, force: true });
process.exit(code);

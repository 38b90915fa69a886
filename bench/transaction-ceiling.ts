/**
 * The machine's ceiling for a create-shaped transaction, measured in the same bench run as Kumo so that Kumo's
 * creates/s can be reported as a ratio of it: absolute figures move between machines of one kind (the same Kumo ran
 * 2.2× faster on one than on another) and between runs on a shared machine.
 *
 * The transaction is the one in ../shared/reference/postgres-on-this-machine.md — idempotency insert, a capacity
 * update on one of three host rows, instance insert with a jsonb document, address, operation and event inserts,
 * pg_notify, commit — run by pgbench (a C client, no application in the way) at the bench's concurrency, in a scratch
 * database that is dropped afterwards.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { createScratchDatabase } from '../test/support/test-database.js';

const SCHEMA = `
CREATE TABLE idem (k text PRIMARY KEY, created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE hosts (id integer PRIMARY KEY, free integer NOT NULL);
INSERT INTO hosts SELECT g, 1000000000 FROM generate_series(1, 3) g;
CREATE TABLE inst (id bigserial PRIMARY KEY, host integer NOT NULL, doc jsonb NOT NULL);
CREATE TABLE addr (id bigserial PRIMARY KEY, inst bigint NOT NULL);
CREATE TABLE ops (id bigserial PRIMARY KEY, inst bigint NOT NULL, doc jsonb NOT NULL);
CREATE TABLE ev (id bigserial PRIMARY KEY, data jsonb NOT NULL);
`;

const TRANSACTION = `\\set h random(1, 3)
BEGIN;
INSERT INTO idem (k) VALUES (md5(random()::text || clock_timestamp()::text));
UPDATE hosts SET free = free - 1 WHERE id = :h AND free >= 1;
INSERT INTO inst (host, doc) VALUES (:h, jsonb_build_object('name', md5(random()::text), 'pad', repeat('x', 1200)));
INSERT INTO addr (inst) VALUES (currval('inst_id_seq'));
INSERT INTO ops (inst, doc) VALUES (currval('inst_id_seq'), '{"kind": "create", "status": "running"}');
INSERT INTO ev (data) VALUES ('{"type": "created"}');
SELECT pg_notify('kumo', 'x');
COMMIT;
`;

export interface Ceiling {
  transactionsPerSecond: number | null;
  /** Why there is no figure (no pgbench on PATH, or it failed). */
  missing?: string;
}

/** Runs the transaction for `seconds` at `clients` against the server of `serverUrl` (a database URL). */
export async function measureTransactionCeiling(serverUrl: string, clients: number, seconds: number): Promise<Ceiling> {
  if (spawnSync('pgbench', ['--version']).status !== 0) return { transactionsPerSecond: null, missing: 'no pgbench on PATH' };
  // Whatever ran on the server before (an earlier bench's external pass, a test run) is written out first, so that
  // its checkpoint does not run under pgbench. (Four back-to-back runs here still measured 787–978 tx/s: the ceiling
  // moves with the machine too, which is why it is measured in the same run.)
  await settle(serverUrl);
  const database = await createScratchDatabase(serverUrl, 'kumo_ceiling');
  const dir = mkdtempSync(join(tmpdir(), 'kumo-ceiling-'));
  try {
    const scratch = new pg.Client({ connectionString: database.databaseUrl });
    await scratch.connect();
    try {
      await scratch.query(SCHEMA);
    } finally {
      await scratch.end();
    }
    const script = join(dir, 'create-shaped.sql');
    writeFileSync(script, TRANSACTION);
    const run = spawnSync(
      'pgbench',
      // pgbench refuses more threads than clients; two threads are enough for a 2-core machine.
      ['-n', '-c', String(clients), '-j', String(Math.min(2, clients)), '-T', String(seconds), '-f', script, database.databaseUrl],
      { encoding: 'utf8' },
    );
    const tps = /tps = ([\d.]+) \(without initial connection time\)/.exec(run.stdout ?? '')?.[1];
    if (run.status !== 0 || !tps) {
      return { transactionsPerSecond: null, missing: `pgbench failed: ${(run.stderr ?? '').trim().slice(0, 200)}` };
    }
    return { transactionsPerSecond: Number(tps) };
  } finally {
    await database.drop();
    rmSync(dir, { recursive: true, force: true });
    await settle(serverUrl);
  }
}

/**
 * Writes out what the server holds dirty (`CHECKPOINT`), now rather than during the next measurement: its
 * checkpointer would otherwise spread those writes over the following minutes, on the disk every server commits to.
 */
async function settle(serverUrl: string): Promise<void> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    await client.query('CHECKPOINT');
  } catch {
    // Not a superuser: the measurement still runs, with the writes spread under it.
  } finally {
    await client.end();
  }
}

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent } from '../../src/agent/agent.js';
import type { GuestReport, HostStatusSink } from '../../src/agent/host-status-sink.js';
import type { Store } from '../../src/core/index.js';
import { SimulatedDriver } from '../../src/drivers/simulated/simulated-driver.js';
import { createTestStore } from '../support/test-database.js';

/** A sink that records when each report arrived and what it said. */
function recordingSink() {
  const reports: Array<{ at: number; guests: GuestReport }> = [];
  const sink: HostStatusSink = {
    guestEvent: async () => undefined,
    guestReport: async (_hostId, guests) => {
      reports.push({ at: performance.now(), guests });
    },
  };
  return { sink, reports };
}

describe('agent: status sweeps', () => {
  let database: { store: Store; close(): Promise<void> };
  before(async () => {
    database = await createTestStore();
  });
  after(() => database.close());

  it('reports every guest as ids and powers, index for index, once at start and then every interval', async () => {
    const driver = new SimulatedDriver({ hostName: 'sweep-host-1' });
    const image = { id: 'none', boot: { kind: 'none' as const } };
    const spec = (id: string) => ({ id, hostname: id, vcpus: 1, ramMb: 512, diskGb: 1, image, nics: [], sshPublicKeys: [], userData: null, metadata: {} });
    await driver.create(spec('guest-a'));
    await driver.create(spec('guest-b'));
    await driver.stop('guest-b', { gracefulTimeoutMs: 0 });
    const { sink, reports } = recordingSink();
    const agent = new Agent({
      host: { id: 'sweep-host-1', regionId: 'r1', zoneId: 'z1' },
      driver,
      store: database.store,
      statusSink: sink,
      sweepIntervalMs: 150,
    });
    await agent.start();
    try {
      assert.equal(reports.length, 1, 'one report as it starts');
      const [first] = reports;
      const byId = Object.fromEntries(first!.guests.ids.map((id, index) => [id, first!.guests.powers[index]]));
      assert.deepEqual(byId, { 'guest-a': 'running', 'guest-b': 'shutdown' });
      await sleep(700);
      assert.ok(reports.length >= 3, `periodic reports follow (${reports.length})`);
    } finally {
      await agent.stop();
    }
  });

  it('holds its first periodic report back by the offset, so agents sharing a process sweep apart', async () => {
    const { sink, reports } = recordingSink();
    const agent = new Agent({
      host: { id: 'sweep-host-2', regionId: 'r1', zoneId: 'z1' },
      driver: new SimulatedDriver({ hostName: 'sweep-host-2' }),
      store: database.store,
      statusSink: sink,
      sweepIntervalMs: 200,
      sweepOffsetMs: 400,
    });
    const started = performance.now();
    await agent.start();
    try {
      // Timers fire late under load, never early: no periodic report before the offset, one soon after.
      await sleep(300);
      assert.equal(reports.length, 1, 'only the report at start before the offset');
      await sleep(1200);
      assert.ok(reports.length >= 2, 'periodic reports began after the offset');
      assert.ok(reports[1]!.at - started >= 400, `the first periodic report came after the offset (${Math.round(reports[1]!.at - started)} ms)`);
    } finally {
      await agent.stop();
    }
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ControllerStorePort } from '../../src/controller/controller.js';
import { startHarness } from './controller-harness.js';

describe('controller: replicas and crashes', () => {
  it('two controllers on one database share the work without repeating a driver call', async () => {
    const harness = await startHarness({ hosts: 3, driver: { bootDelayMs: 20 }, noController: true });
    try {
      const first = harness.startController({ maxInFlight: 4, batchSize: 2 });
      const second = harness.startController({ maxInFlight: 4, batchSize: 2 });
      const created = await Promise.all(Array.from({ length: 24 }, () => harness.create()));
      for (const { instance } of created) {
        await harness.waitFor(instance.uid, (i) => i.phase === 'running' && i.currentOperationId === null, 10_000);
      }
      const creates = new Map<string, number>();
      for (const driver of harness.drivers) for (const [uid, count] of driver.creates) creates.set(uid, (creates.get(uid) ?? 0) + count);
      assert.equal(creates.size, 24);
      assert.deepEqual([...creates.values()].filter((count) => count !== 1), [], 'every guest was created exactly once');
      assert.ok(first.stats().stepsStarted > 0 && second.stats().stepsStarted > 0, 'both replicas took work');
    } finally {
      await harness.close();
    }
  });

  it('a controller killed mid-step leaves its leases; another takes over once they expire and converges', async () => {
    const harness = await startHarness({ hosts: 2, driver: { bootDelayMs: 200 }, noController: true });
    try {
      // The doomed replica's store goes dark at "kill -9": nothing it learned after that reaches the database.
      let dead = false;
      const store = harness.store;
      const darkStore: ControllerStorePort = new Proxy(store, {
        get(target, property, receiver) {
          const value = Reflect.get(target, property, receiver) as unknown;
          if (typeof value !== 'function' || property === 'subscribeWork') return typeof value === 'function' ? value.bind(target) : value;
          return (...args: unknown[]) => (dead ? Promise.reject(new Error('process killed')) : (value as (...a: unknown[]) => unknown).apply(target, args));
        },
      });
      const doomed = harness.startController({ store: darkStore, leaseMs: 1_000 });
      const created = await Promise.all(Array.from({ length: 6 }, () => harness.create()));
      await new Promise((resolve) => setTimeout(resolve, 60));
      assert.ok(doomed.stats().stepsStarted > 0, 'the doomed controller leased work before it died');
      dead = true;
      const killedAt = Date.now();
      await doomed.stop();

      harness.startController({ leaseMs: 1_000 });
      for (const { instance, operation } of created) {
        const running = await harness.waitFor(instance.uid, (i) => i.phase === 'running' && i.currentOperationId === null, 10_000);
        assert.equal(running.observedGeneration, running.generation);
        assert.equal((await harness.operation(operation.id)).status, 'succeeded');
      }
      assert.ok(Date.now() - killedAt >= 700, 'the survivor waited for the dead replica\'s leases to expire');
    } finally {
      await harness.close();
    }
  });
});

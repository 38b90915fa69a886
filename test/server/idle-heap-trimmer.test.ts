import assert from 'node:assert/strict';
import v8 from 'node:v8';
import { describe, it } from 'node:test';
import { IdleHeapTrimmer, processProbes, type HeapTrimmerProbes } from '../../src/server/idle-heap-trimmer.js';

const MiB = 1024 * 1024;

/** A process whose CPU, heap and clock the test moves by hand. */
function fakeProcess() {
  const state = { cpuMicros: 0, heapBytes: 100 * MiB, now: 0, collections: 0 };
  const probes: HeapTrimmerProbes = {
    cpuMicros: () => state.cpuMicros,
    heapBytes: () => state.heapBytes,
    now: () => state.now,
    collect: () => {
      state.collections += 1;
      state.heapBytes = 60 * MiB;
    },
  };
  /** One interval of `ms` in which the process used `cpuShare` of a core. */
  const pass = (ms: number, cpuShare: number) => {
    state.now += ms;
    state.cpuMicros += ms * 1000 * cpuShare;
  };
  return { state, probes, pass };
}

describe('IdleHeapTrimmer', () => {
  it('collects once the process is quiet and its heap has grown, and not again until it grows again', () => {
    const { state, probes, pass } = fakeProcess();
    const trimmer = new IdleHeapTrimmer({ probes, minGrowthBytes: 24 * MiB });
    state.heapBytes = 300 * MiB; // a burst of load grew the heap
    pass(5_000, 0.9);
    assert.equal(trimmer.check(), false, 'busy: never collects under load');
    pass(5_000, 0.01);
    assert.equal(trimmer.check(), true, 'quiet and grown: collects');
    assert.equal(state.collections, 1);
    pass(5_000, 0.01);
    assert.equal(trimmer.check(), false, 'nothing grew since the last trim');
    state.heapBytes = 70 * MiB;
    pass(5_000, 0.01);
    assert.equal(trimmer.check(), false, 'grown by less than the threshold');
    state.heapBytes = 120 * MiB;
    pass(5_000, 0.01);
    assert.equal(trimmer.check(), true);
    assert.equal(trimmer.trimCount, 2);
  });

  it('does not count its own collection against the next interval', () => {
    const { state, probes, pass } = fakeProcess();
    const collect = probes.collect!;
    probes.collect = () => {
      collect();
      state.cpuMicros += 2_000_000; // a long collection
    };
    const trimmer = new IdleHeapTrimmer({ probes });
    state.heapBytes = 300 * MiB;
    pass(5_000, 0);
    assert.equal(trimmer.check(), true);
    state.heapBytes = 300 * MiB;
    pass(5_000, 0);
    assert.equal(trimmer.check(), true, 'the interval after a trim is judged on its own CPU');
  });

  it('gives back the heap of a burst on this runtime', () => {
    const probes = processProbes();
    assert.ok(probes.collect, 'this Node.js lets the trimmer collect');
    const quiet = { ...probes, cpuMicros: () => 0 };
    const trimmer = new IdleHeapTrimmer({ probes: quiet, minGrowthBytes: 8 * MiB });
    let garbage: unknown[] | null = Array.from({ length: 400_000 }, (_, i) => ({ i, text: `instance-${i}` }));
    const grown = v8.getHeapStatistics().total_heap_size;
    assert.ok(garbage.length > 0);
    garbage = null;
    assert.equal(trimmer.check(), true);
    const after = v8.getHeapStatistics().total_heap_size;
    assert.ok(after < grown, `heap ${Math.round(after / MiB)} MiB after the trim, ${Math.round(grown / MiB)} MiB before`);
  });

  it('gives back old-space pages that a burst left sparse, not only the garbage on them', () => {
    const trimmer = new IdleHeapTrimmer({ probes: { ...processProbes(), cpuMicros: () => 0 }, minGrowthBytes: 8 * MiB });
    // One object in fifteen outlives the burst, so every page the burst filled keeps a few survivors.
    const survivors: unknown[] = [];
    let garbage: unknown[] | null = [];
    for (let i = 0; i < 600_000; i++) {
      garbage.push({ i, text: `instance-${i}`, sizes: [i, i] });
      if (i % 15 === 0) survivors.push({ i });
    }
    garbage = null;
    assert.equal(trimmer.check(), true);
    const old = v8.getHeapSpaceStatistics().find((space) => space.space_name === 'old_space')!;
    assert.ok(survivors.length > 0);
    assert.ok(
      old.space_size < 2 * old.space_used_size + 8 * MiB,
      `old space holds ${Math.round(old.space_size / MiB)} MiB for ${Math.round(old.space_used_size / MiB)} MiB in use`,
    );
  });
});

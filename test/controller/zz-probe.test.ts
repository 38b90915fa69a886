import { it } from 'node:test';
import { startHarness } from './controller-harness.js';

it('probe: POST→RUNNING latency at ~1000 creates/s', { timeout: 120_000 }, async () => {
  const harness = await startHarness({ hosts: 8, noController: true, driver: { capacity: { vcpus: 4096, ramMb: 4_000_000, diskGb: 100_000, gpus: [], arch: 'x86_64' } } });
  const timing: Record<string, number[]> = { lease: [], leaseN: [], record: [], recordN: [] };
  const base = harness.store;
  const timed = Object.assign(Object.create(null), base, {
    async leaseInstances(owner: string, limit: number, leaseMs: number) {
      const t = performance.now();
      const r = await base.leaseInstances(owner, limit, leaseMs);
      timing.lease!.push(performance.now() - t); timing.leaseN!.push(r.length);
      return r;
    },
    async recordObservations(owner: string, updates: any[]) {
      const t = performance.now();
      const r = await base.recordObservations(owner, updates);
      timing.record!.push(performance.now() - t); timing.recordN!.push(updates.length);
      return r;
    },
  });
  harness.startController({ store: timed });
  const summary = () => Object.fromEntries(Object.entries(timing).map(([k, v]) => { const s = [...v].sort((a, b) => a - b); return [k, { n: s.length, p50: Math.round(s[Math.floor(s.length / 2)]! * 10) / 10, p99: Math.round(s[Math.floor(s.length * 0.99)]! * 10) / 10, avg: Math.round(s.reduce((a, b) => a + b, 0) / s.length * 10) / 10 }]; }));
  try {
    const rate = Number(process.env.PROBE_RATE ?? 1000);
    const seconds = 4;
    const ops: Array<Promise<{ uid: string; opId: string; t0: number; t1: number }>> = [];
    const start = Date.now();
    const cpu0 = process.cpuUsage();
    let sent = 0;
    while (Date.now() - start < seconds * 1000) {
      const due = Math.floor(((Date.now() - start) / 1000) * rate);
      while (sent < due) {
        sent++;
        const t0 = Date.now();
        ops.push(harness.create().then((r) => ({ uid: r.instance.uid, opId: r.operation.id, t0, t1: Date.now() })));
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
    const results = await Promise.allSettled(ops);
    const cpu = process.cpuUsage(cpu0);
    console.log(JSON.stringify({ nodeCpuPct: Math.round(((cpu.user + cpu.system) / 1000 / (Date.now() - start)) * 100) }));
    const ok = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const failed = results.filter((r) => r.status === 'rejected');
    if (failed[0]) console.log('first failure', (failed[0] as PromiseRejectedResult).reason);
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const latencies: number[] = [];
    const createLat = ok.map((o) => o.t1 - o.t0).sort((a, b) => a - b);
    const after: number[] = [];
    let notDone = 0;
    for (const { opId, t1 } of ok) {
      const op = await harness.operation(opId);
      if (!op.completedAt) { notDone++; continue; }
      latencies.push(op.completedAt.getTime() - op.createdAt.getTime());
      after.push(op.completedAt.getTime() - t1);
    }
    after.sort((a, b) => a - b);
    console.log(JSON.stringify({ createP50: createLat[Math.floor(createLat.length / 2)], createP99: createLat[Math.floor(createLat.length * 0.99)], afterP50: after[Math.floor(after.length / 2)], afterP99: after[Math.floor(after.length * 0.99)] }));
    latencies.sort((a, b) => a - b);
    const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))];
    console.log(JSON.stringify(summary()));
    console.log(JSON.stringify({ sent, ok: ok.length, failed: failed.length, notDone, p50: pct(50), p90: pct(90), p99: pct(99), max: latencies.at(-1), stats: harness.controllers[0]?.stats() }));
  } finally {
    await harness.close();
  }
});

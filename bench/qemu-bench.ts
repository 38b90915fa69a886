import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { GuestSpec } from '../src/drivers/hypervisor-driver.js';
import { GuestFiles } from '../src/drivers/qemu/guest-files.js';
import { readPidFile } from '../src/drivers/qemu/guest-process.js';
import { buildGuestImage, type GuestImage } from '../src/drivers/qemu/image-builder.js';
import { QemuDriver } from '../src/drivers/qemu/qemu-driver.js';

/**
 * Driver-level QEMU benchmark: create→ready latency (p50/p95) for 1 guest at a time and for 5 at once, and memory per
 * guest (PSS from /proc/<pid>/smaps_rollup at ready). Needs root and QEMU; uses its own bridge and the subnet
 * 10.213.50.0/24 inside the blackholed 10.213.0.0/16, and removes everything it made.
 * Usage: node dist/bench/qemu-bench.js [--rounds N]
 */
const rounds = Number(process.argv[process.argv.indexOf('--rounds') + 1] || 5);
const network = { bridge: 'kumobench0', tapPrefix: 'kb-', routeTable: 4350, rulePriority: 4350, blackholeMetric: 4350 };

function spec(image: GuestImage, host: number): GuestSpec {
  const id = `bench-${randomUUID()}`;
  return {
    id,
    hostname: `bench-${host}`,
    vcpus: 1,
    ramMb: 256,
    diskGb: 1,
    image: { id: 'kumo-busybox', boot: { kind: 'kernel', kernel: image.kernel, initrd: image.initrd, cmdline: image.cmdline } },
    nics: [{ macAddress: `52:54:00:be:00:${host.toString(16).padStart(2, '0')}`, ipv4Address: `10.213.50.${host}`, prefixLength: 24, gatewayIp: '10.213.50.1' }],
    sshPublicKeys: ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGnhYl4Xg3cFmUZ0n6WJ8eXyoRpjNQ0dMdsc3zJYKuZ2 bench@kumo'],
    userData: null,
    metadata: {},
  };
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

async function pssKb(pid: number): Promise<number> {
  const rollup = await readFile(`/proc/${pid}/smaps_rollup`, 'utf8');
  return Number(/^Pss:\s+(\d+) kB/m.exec(rollup)?.[1] ?? Number.NaN);
}

async function main(): Promise<void> {
  const image = await buildGuestImage();
  const stateDir = await mkdtemp(join(tmpdir(), 'kumo-qemu-bench-'));
  const driver = new QemuDriver({ stateDir, network, readyTimeoutMs: 180_000 });
  let host = 10;
  const round = async (concurrency: number): Promise<{ latencies: number[]; pss: number[] }> => {
    const specs = Array.from({ length: concurrency }, () => spec(image, host++));
    const latencies = await Promise.all(
      specs.map(async (guest) => {
        const started = performance.now();
        await driver.create(guest);
        return performance.now() - started;
      }),
    );
    const pss: number[] = [];
    for (const guest of specs) {
      const pid = await readPidFile(new GuestFiles(stateDir, guest.id).pidFile);
      if (pid !== undefined) pss.push(await pssKb(pid));
    }
    for (const guest of specs) await driver.destroy(guest.id);
    return { latencies, pss };
  };
  try {
    const report: Record<string, unknown> = { rounds, accel: 'tcg', guest: '1 vCPU, 256 MB, busybox initramfs + dropbear' };
    for (const concurrency of [1, 5]) {
      const latencies: number[] = [];
      const pss: number[] = [];
      for (let index = 0; index < (concurrency === 1 ? rounds : Math.max(1, Math.ceil(rounds / 2))); index++) {
        const result = await round(concurrency);
        latencies.push(...result.latencies);
        pss.push(...result.pss);
      }
      report[`concurrency${concurrency}`] = {
        samples: latencies.length,
        p50Ms: Math.round(percentile(latencies, 50)),
        p95Ms: Math.round(percentile(latencies, 95)),
        maxMs: Math.round(Math.max(...latencies)),
        pssMbPerGuestMean: Math.round(pss.reduce((sum, value) => sum + value, 0) / pss.length / 1024),
      };
    }
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  } finally {
    await driver.close();
    await driver.network.teardown();
    await rm(stateDir, { recursive: true, force: true });
  }
}

await main();

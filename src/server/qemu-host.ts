import { cpus, hostname } from 'node:os';
import { join } from 'node:path';
import type { CatalogService, Store } from '../core/index.js';
import { buildGuestImage } from '../drivers/qemu/image-builder.js';
import { QemuDriver } from '../drivers/qemu/qemu-driver.js';
import type { HypervisorDriver } from '../drivers/hypervisor-driver.js';
import type { KumoConfig } from './config.js';

/**
 * The single-machine QEMU host: builds (or finds cached) the guest image, points every catalog image that has no boot
 * artifacts of its own at it, and makes the driver. Its zone is KUMO_QEMU_ZONE (default us1-a).
 */
export async function prepareQemuHost(
  config: KumoConfig,
  deps: { catalog: CatalogService; store: Store; log: (line: string) => void },
): Promise<{ id: string; zoneId: string; regionId: string; driver: HypervisorDriver; cpuRatio: number; ramRatio: number }> {
  const image = await buildGuestImage({ cacheDir: join(config.dataDir, 'images') });
  deps.log(`QEMU guest image ${image.hash} (kernel ${image.kernelRelease})`);
  for (const catalogImage of await deps.store.listImages(null)) {
    if (catalogImage.boot.kind === 'none' && catalogImage.projectId === null) {
      await deps.store.updateImage(catalogImage.id, { boot: { kind: 'kernel', kernel: image.kernel, initrd: image.initrd, cmdline: image.cmdline } });
    }
  }
  deps.catalog.invalidate();
  const zoneId = config.qemuZone;
  const zone = (await deps.catalog.listZones()).find((z) => z.id === zoneId);
  if (!zone) throw new Error(`KUMO_QEMU_ZONE ${zoneId} is not in the catalog`);
  const driver = new QemuDriver({
    stateDir: join(config.dataDir, 'qemu'),
    accel: config.qemuAccel as 'tcg',
    readyTimeoutMs: config.qemuReadyTimeoutMs,
  });
  // Small TCG guests touch a fraction of their RAM and idle near 1 % of a CPU: overcommit accordingly.
  return { id: `qemu-${hostname()}`.toLowerCase().replace(/[^a-z0-9-]/g, '-').slice(0, 63), zoneId, regionId: zone.regionId, driver, cpuRatio: Math.max(4, 16 / Math.max(1, cpus().length)), ramRatio: 2 };
}

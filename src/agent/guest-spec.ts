import type { Image } from '../core/catalog/catalog.js';
import type { Instance } from '../core/instances/instance.js';
import type { GuestSpec } from '../drivers/hypervisor-driver.js';

/**
 * The guest spec a host boots for an instance: only what a hypervisor needs, never the tenant. The boot source is
 * the catalog image's boot artifacts; paths in it are resolved by the driver against its own image directory.
 */
export function buildGuestSpec(instance: Instance, image: Pick<Image, 'id' | 'boot'>): GuestSpec {
  return {
    id: instance.uid,
    hostname: instance.hostname,
    vcpus: instance.vcpus,
    ramMb: instance.ramMb,
    diskGb: instance.diskGb,
    image: { id: image.id, boot: image.boot },
    nics: instance.nics.map((nic) => ({
      macAddress: nic.macAddress,
      ipv4Address: nic.ipv4Address,
      prefixLength: nic.prefixLength,
      gatewayIp: nic.gatewayIp,
    })),
    sshPublicKeys: [...instance.sshPublicKeys],
    userData: instance.userData,
    metadata: { ...instance.metadata },
  };
}

import type { GuestSpec } from '../../src/drivers/hypervisor-driver.js';
import type { HostNetworkConfig } from '../../src/drivers/qemu/host-network.js';
import { QemuDriver } from '../../src/drivers/qemu/qemu-driver.js';

/**
 * A Kumo stand-in for the adoption test: owns a QemuDriver, creates the guest given on argv, prints
 * `CHILD-READY` and waits to be SIGKILLed. argv: stateDir, network config JSON, spec JSON.
 */
const [stateDir, networkJson, specJson] = process.argv.slice(2);
if (!stateDir || !networkJson || !specJson) throw new Error('usage: qemu-adoption-child STATE_DIR NETWORK_JSON SPEC_JSON');
const driver = new QemuDriver({ stateDir, network: JSON.parse(networkJson) as HostNetworkConfig, readyTimeoutMs: 120_000 });
await driver.create(JSON.parse(specJson) as GuestSpec);
process.stdout.write('CHILD-READY\n');
setInterval(() => undefined, 60_000);

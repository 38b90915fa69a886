import { describe, it } from 'node:test';

import { QemuDriver } from '../../src/drivers/qemu/qemu-driver.js';
import { describeDriverContract } from './driver-contract.js';
import { qemuSkipReason, sshKeyPair, tempStateDir, testGuestImage, testNetwork, testSpec } from './qemu-fixtures.js';
import { readPidFile } from '../../src/drivers/qemu/guest-process.js';
import { GuestFiles } from '../../src/drivers/qemu/guest-files.js';
import { rm } from 'node:fs/promises';

const skip = qemuSkipReason();

if (skip) {
  describe('qemu: hypervisor driver contract', () => {
    it('runs real guests', (t) => t.skip(skip));
  });
} else {
  describeDriverContract(
    'qemu',
    async () => {
      const image = await testGuestImage();
      const state = await tempStateDir();
      const keys = await sshKeyPair();
      const network = testNetwork(11);
      const driver = new QemuDriver({ stateDir: state.dir, network, readyTimeoutMs: 120_000 });
      let host = 10;
      return {
        driver,
        spec: (id: string) => testSpec({ id, image, network, host: host++, publicKey: keys.publicKey }),
        crashGuest: async (id: string) => {
          const pid = await readPidFile(new GuestFiles(state.dir, id).pidFile);
          if (pid !== undefined) process.kill(pid, 'SIGKILL');
        },
        cleanup: async () => {
          await driver.close();
          await driver.network.teardown();
          await state.remove();
          await rm(keys.dir, { recursive: true, force: true });
        },
      };
    },
    { slow: true },
  );
}

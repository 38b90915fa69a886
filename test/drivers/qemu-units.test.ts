import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';

import type { GuestSpec } from '../../src/drivers/hypervisor-driver.js';
import { buildCpioArchive } from '../../src/drivers/qemu/cpio-archive.js';
import { networkCidr } from '../../src/drivers/qemu/host-network.js';
import { renderMetaData, renderNetworkConfig } from '../../src/drivers/qemu/nocloud-seed.js';
import { qemuCommand } from '../../src/drivers/qemu/qemu-command.js';
import { GuestFiles } from '../../src/drivers/qemu/guest-files.js';

const spec: GuestSpec = {
  id: 'guest-1',
  hostname: 'web-1',
  vcpus: 2,
  ramMb: 512,
  diskGb: 3,
  image: { id: 'img', boot: { kind: 'kernel', kernel: '/k/vmlinux', initrd: '/k/initrd' } },
  nics: [{ macAddress: '52:54:00:AA:BB:CC', ipv4Address: '10.213.5.7', prefixLength: 24, gatewayIp: '10.213.5.1' }],
  sshPublicKeys: ["ssh-ed25519 AAAA o'brien@host"],
  userData: null,
  metadata: { role: 'web', 'bad key': 'dropped' },
};

describe('NoCloud seed rendering', () => {
  it('writes meta-data with quoted scalars, keys and safe extras', () => {
    assert.equal(
      renderMetaData(spec),
      "instance-id: 'guest-1'\nlocal-hostname: 'web-1'\npublic-keys:\n  - 'ssh-ed25519 AAAA o''brien@host'\nrole: 'web'\n",
    );
  });

  it('writes a version 2 network-config matching the NIC by MAC with exactly its address', () => {
    const config = renderNetworkConfig(spec);
    assert.match(config, /macaddress: '52:54:00:aa:bb:cc'/);
    assert.match(config, /- '10\.213\.5\.7\/24'/);
    assert.match(config, /via: '10\.213\.5\.1'/);
  });
});

describe('host network arithmetic', () => {
  it('computes network CIDRs', () => {
    assert.equal(networkCidr('10.213.5.1', 24), '10.213.5.0/24');
    assert.equal(networkCidr('10.213.5.1', 16), '10.213.0.0/16');
    assert.equal(networkCidr('192.168.7.130', 25), '192.168.7.128/25');
    assert.throws(() => networkCidr('10.0.0.256', 24));
  });
});

describe('QEMU command line', () => {
  it('names the guest, never passes -no-reboot and uses the spec size', () => {
    const files = new GuestFiles('/var/lib/kumo', spec.id);
    const args = qemuCommand({
      guestId: spec.id,
      files,
      boot: { kind: 'kernel', kernel: '/k/vmlinux', initrd: '/k/initrd' },
      size: { vcpus: 2, ramMb: 512, diskGb: 3 },
      accel: 'tcg',
      nics: [{ tap: 'kt-abc', macAddress: '52:54:00:aa:bb:cc' }],
    });
    assert.equal(args[args.indexOf('-name') + 1], 'guest=guest-1');
    assert.equal(args[args.indexOf('-m') + 1], '512');
    assert.equal(args[args.indexOf('-smp') + 1], '2');
    assert.ok(!args.includes('-no-reboot'));
    assert.ok(args.includes('virtio-net-pci,netdev=net0,mac=52:54:00:aa:bb:cc'));
  });
});

describe('cpio archive', () => {
  it('is a newc archive the cpio tool can list', () => {
    const archive = buildCpioArchive([
      { kind: 'dir', path: '/etc' },
      { kind: 'file', path: '/etc/hostname', data: Buffer.from('web-1\n') },
      { kind: 'symlink', path: '/init', target: '/bin/busybox' },
      { kind: 'char', path: '/dev/console', major: 5, minor: 1 },
    ]);
    const dir = mkdtempSync(join(tmpdir(), 'kumo-cpio-'));
    try {
      writeFileSync(join(dir, 'a.cpio'), gunzipSync(archive));
      const listing = execFileSync('cpio', ['-itv', '-F', join(dir, 'a.cpio')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      assert.match(listing, /etc\/hostname/);
      assert.match(listing, /init -> \/bin\/busybox/);
      assert.match(listing, /^c.*dev\/console/m);
      execFileSync('cpio', ['-idm', '--quiet', '--no-absolute-filenames', '-F', join(dir, 'a.cpio'), 'etc/hostname'], { cwd: dir });
      assert.equal(readFileSync(join(dir, 'etc', 'hostname'), 'utf8'), 'web-1\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

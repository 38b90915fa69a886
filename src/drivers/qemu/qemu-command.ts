import type { GuestBootSource } from '../hypervisor-driver.js';
import type { GuestFiles, GuestSize } from './guest-files.js';
import { GUEST_KERNEL_CMDLINE } from './image-builder.js';

/** QEMU acceleration: TCG (works everywhere), KVM, or KVM falling back to TCG. */
export type QemuAccel = 'tcg' | 'kvm' | 'kvm:tcg';

export interface QemuCommandInput {
  guestId: string;
  files: GuestFiles;
  boot: Exclude<GuestBootSource, { kind: 'none' }>;
  size: GuestSize;
  accel: QemuAccel;
  nics: Array<{ tap: string; macAddress: string }>;
}

/**
 * The QEMU argument vector of a guest. `-name guest=<id>` is how a process is recognised as this guest's;
 * the QMP socket never waits for a client; the serial console is appended to the log so output survives restarts;
 * there is no `-no-reboot`, so a guest reboot resets the machine in the same process. The disk is `disk0` (QMP names
 * it for snapshots) with virtio serial `kumo-data`, which the test guest looks for to mount /data.
 */
export function qemuCommand(input: QemuCommandInput): string[] {
  const { files, size } = input;
  const args = ['-name', `guest=${input.guestId}`, '-machine', 'q35', '-nodefaults', '-no-user-config', '-display', 'none'];
  for (const accel of input.accel.split(':')) args.push('-accel', accel);
  if (input.accel !== 'tcg') args.push('-cpu', 'max');
  args.push('-m', String(size.ramMb), '-smp', String(size.vcpus));
  args.push('-chardev', `file,id=serial0,path=${files.serialLog},append=on`, '-serial', 'chardev:serial0');
  args.push('-qmp', `unix:${files.qmpSocket},server=on,wait=off`, '-pidfile', files.pidFile);
  if (input.boot.kind === 'kernel') {
    args.push('-kernel', input.boot.kernel, '-initrd', input.boot.initrd, '-append', input.boot.cmdline ?? GUEST_KERNEL_CMDLINE);
  }
  args.push('-drive', `file=${files.disk},if=none,id=disk0,format=qcow2,discard=unmap`);
  args.push('-device', `virtio-blk-pci,drive=disk0,serial=kumo-data${input.boot.kind === 'disk' ? ',bootindex=0' : ''}`);
  args.push('-drive', `file=${files.seed},if=none,id=seed0,format=raw,readonly=on`, '-device', 'virtio-blk-pci,drive=seed0');
  input.nics.forEach((nic, index) => {
    args.push('-netdev', `tap,id=net${index},ifname=${nic.tap},script=no,downscript=no`);
    args.push('-device', `virtio-net-pci,netdev=net${index},mac=${nic.macAddress}`);
  });
  args.push('-device', 'virtio-rng-pci');
  return args;
}

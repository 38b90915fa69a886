import { gzipSync } from 'node:zlib';

/** One member of an initramfs: a directory, a regular file, a symlink or a character device node. */
export type CpioEntry =
  | { kind: 'dir'; path: string; mode?: number }
  | { kind: 'file'; path: string; data: Buffer; mode?: number }
  | { kind: 'symlink'; path: string; target: string }
  | { kind: 'char'; path: string; major: number; minor: number; mode?: number };

const TYPE_BITS = { dir: 0o040000, file: 0o100000, symlink: 0o120000, char: 0o020000 } as const;

function pad4(length: number): Buffer {
  return Buffer.alloc((4 - (length % 4)) % 4);
}

function hex8(value: number): string {
  return value.toString(16).padStart(8, '0');
}

/**
 * Serialises entries as a gzip-compressed `newc` cpio archive, the format the Linux kernel unpacks as an initramfs.
 * Written in Node rather than with the cpio CLI so device nodes (/dev/console must exist before devtmpfs is mounted)
 * need no root and the archive is byte-for-byte reproducible (all mtimes are zero, owner root).
 */
export function buildCpioArchive(entries: readonly CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  let inode = 1;
  const push = (name: string, mode: number, data: Buffer, rdev: [number, number] = [0, 0]): void => {
    const nameBytes = Buffer.from(`${name}\0`);
    const fields = [inode++, mode, 0, 0, mode & 0o040000 ? 2 : 1, 0, data.length, 0, 0, rdev[0], rdev[1], nameBytes.length, 0];
    const header = Buffer.from(`070701${fields.map(hex8).join('')}`, 'ascii');
    parts.push(header, nameBytes, pad4(header.length + nameBytes.length), data, pad4(data.length));
  };
  for (const entry of entries) {
    const name = entry.path.replace(/^\/+/, '');
    switch (entry.kind) {
      case 'dir':
        push(name, TYPE_BITS.dir | (entry.mode ?? 0o755), Buffer.alloc(0));
        break;
      case 'file':
        push(name, TYPE_BITS.file | (entry.mode ?? 0o644), entry.data);
        break;
      case 'symlink':
        push(name, TYPE_BITS.symlink | 0o777, Buffer.from(entry.target));
        break;
      case 'char':
        push(name, TYPE_BITS.char | (entry.mode ?? 0o600), Buffer.alloc(0), [entry.major, entry.minor]);
        break;
    }
  }
  push('TRAILER!!!', 0, Buffer.alloc(0));
  return gzipSync(Buffer.concat(parts), { level: 6 });
}

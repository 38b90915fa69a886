import { readFile, writeFile } from 'node:fs/promises';

import { runBinaryFilter } from './run-command.js';

const ELF_MAGIC = Buffer.from([0x7f, 0x45, 0x4c, 0x46]);
const PAYLOADS: ReadonlyArray<{ magic: Buffer; file: string; args: string[] }> = [
  { magic: Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]), file: 'xz', args: ['-dc', '--single-stream'] },
  { magic: Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), file: 'zstd', args: ['-dc'] },
];

/**
 * Extracts the uncompressed ELF `vmlinux` from a bzImage. QEMU can PVH-boot the ELF directly, which skips the
 * decompressor that costs seconds under TCG. The payload is found by its XZ or ZSTD magic and decompressed with the
 * `xz`/`zstd` CLI; a candidate counts only when its output is an ELF image (the magic also occurs by chance).
 */
export async function extractVmlinux(bzImagePath: string, outPath: string): Promise<void> {
  const image = await readFile(bzImagePath);
  for (const payload of PAYLOADS) {
    for (let at = image.indexOf(payload.magic); at >= 0; at = image.indexOf(payload.magic, at + 1)) {
      const { stdout } = await runBinaryFilter(payload.file, payload.args, image.subarray(at));
      if (stdout.length > 1024 * 1024 && stdout.subarray(0, 4).equals(ELF_MAGIC)) {
        await writeFile(outPath, stdout);
        return;
      }
    }
  }
  throw new Error(`no XZ or ZSTD compressed ELF kernel found in ${bzImagePath}`);
}

import { resolve } from 'node:path';
import { buildGuestImage } from '../drivers/qemu/image-builder.js';

/** `kumo image build [--force]`: builds the QEMU guest image into `${KUMO_DATA_DIR}/images`, or finds it cached. */
export async function buildImageCommand(args: string[]): Promise<void> {
  const [verb, ...rest] = args;
  if (verb !== 'build') throw new Error('usage: kumo image build [--force]');
  const started = Date.now();
  const image = await buildGuestImage({
    cacheDir: resolve(process.env.KUMO_DATA_DIR ?? '.kumo', 'images'),
    force: rest.includes('--force'),
  });
  console.log(`guest image ${image.hash} (kernel ${image.kernelRelease}) in ${image.dir} — ${Date.now() - started} ms`);
}

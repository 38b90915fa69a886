import { randomUUID } from 'node:crypto';
import type { CatalogStore } from '../core/ports.js';
import type { ObservationUpdate } from '../core/ports.js';
import type { SnapshotResult } from '../drivers/hypervisor-driver.js';
import { StepFailure } from './step-errors.js';
import { phaseForDesiredPower, type StepContext } from './step-context.js';

export type SnapshotImageStore = Pick<CatalogStore, 'updateImage' | 'createImage'>;

/**
 * snapshotting → the phase the instance was in (running, stopped or paused): the driver makes a bootable image of
 * the disk, and the image record named by the operation becomes active with the driver's boot artifacts. A failed
 * snapshot leaves a working instance, so the instance goes back to its phase and only the operation fails.
 *
 * The image record is expected to exist (created `queued`/`saving` with the action); when it does not, it is created
 * here from the source image, so a snapshot never ends without its image.
 */
export async function snapshotInstance(context: StepContext, images: SnapshotImageStore): Promise<ObservationUpdate[]> {
  const { instance, agent } = context;
  const imageId = context.operation?.params.imageId;
  if (typeof imageId !== 'string' || imageId === '') {
    throw new StepFailure('invalid-snapshot', 'NoSnapshotImage', 'the snapshot operation names no image', 'desired-power');
  }
  if (!agent.capabilities.snapshot) {
    throw new StepFailure('unsupported', 'SnapshotUnsupported', `the ${agent.hostId} hypervisor cannot snapshot guests`, 'desired-power');
  }
  const snapshot = await context.call('snapshot', `saving image ${imageId}`, () => agent.snapshotGuest(instance.uid, imageId));
  await activateImage(context, images, imageId, snapshot);
  const phase = phaseForDesiredPower(instance);
  return context.outcome({
    phase,
    statusMessage: '',
    ready: phase === 'running' ? { status: 'True', reason: 'GuestReady' } : { status: 'False', reason: phase === 'paused' ? 'Paused' : 'Stopped' },
    steps: [context.step('image-active', 'succeeded', `image ${imageId} is active (${snapshot.sizeBytes} bytes)`)],
    operation: { status: 'succeeded' },
  });
}

async function activateImage(context: StepContext, images: SnapshotImageStore, imageId: string, snapshot: SnapshotResult): Promise<void> {
  const updated = await images.updateImage(imageId, { status: 'active', boot: snapshot.boot, sizeBytes: snapshot.sizeBytes });
  if (updated) return;
  const { instance } = context;
  const source = await context.catalog.image(instance.imageId);
  const now = context.now();
  const name = context.operation?.params.imageName;
  await images.createImage({
    id: imageId,
    uid: randomUUID(),
    name: typeof name === 'string' && name ? name : imageId,
    os: source?.os ?? 'unknown',
    osVersion: source?.osVersion ?? '',
    arch: source?.arch ?? 'x86_64',
    minDiskGb: instance.diskGb,
    minRamMb: source?.minRamMb ?? 0,
    sizeBytes: snapshot.sizeBytes,
    status: 'active',
    projectId: instance.projectId,
    sourceInstanceUid: instance.uid,
    boot: snapshot.boot,
    createdAt: now,
    updatedAt: now,
  });
}

/** Marks the snapshot's image failed, best-effort, when the snapshot step fails for good. */
export async function failSnapshotImage(context: StepContext, images: SnapshotImageStore): Promise<void> {
  const imageId = context.operation?.params.imageId;
  if (typeof imageId === 'string' && imageId) await images.updateImage(imageId, { status: 'error' }).catch(() => null);
}

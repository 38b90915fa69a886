import { isNetworkError } from '../agent/agent.js';
import type { AgentDirectory } from '../agent/agent-client.js';
import { errorDetails, type Logger } from '../agent/logger.js';
import type { Instance, Operation } from '../core/instances/instance.js';
import type { InstancePhase } from '../core/instances/lifecycle.js';
import type { Clock, InstanceStore, ObservationUpdate } from '../core/ports.js';
import { GuestBootTimeoutError } from '../drivers/hypervisor-driver.js';
import type { CatalogCache } from './catalog-cache.js';
import { findCondition, HOST_REACHABLE, setCondition } from './conditions.js';
import { deleteInstance, finalizeDeletion } from './delete-step.js';
import type { ObservationWriter } from './observation-writer.js';
import { pauseInstance, rebootInstance, startInstance, stopInstance, unpauseInstance } from './power-steps.js';
import { provisionInstance, type PowerSettings } from './provisioning-step.js';
import { resizeInstance } from './resize-step.js';
import { failSnapshotImage, snapshotInstance, type SnapshotImageStore } from './snapshot-step.js';
import { phaseForDesiredPower, StepContext } from './step-context.js';
import type { StepKind } from './step-deadlines.js';
import { LeaseLostError, StepAbortedError, StepDeadlineError, StepFailure } from './step-errors.js';

/** The phases with a step, and the kind of step (which sets its deadline). */
const STEP_KINDS: Partial<Record<InstancePhase, StepKind>> = {
  provisioning: 'create',
  stopping: 'stop',
  starting: 'start',
  rebooting: 'reboot',
  pausing: 'pause',
  unpausing: 'unpause',
  resizing: 'resize',
  snapshotting: 'snapshot',
  deleting: 'delete',
};

export interface ReconcilerSettings extends PowerSettings {
  deadlines: Record<StepKind, number>;
  /** How long a host may stay unreachable before its instances' steps give up; default 60 s. */
  hostLostAfterMs: number;
  /** Backoff bounds while a host is unreachable. */
  minRetryMs: number;
  maxRetryMs: number;
  progressAfterMs: number;
  deadlineGraceMs: number;
}

export interface InstanceReconcilerDeps {
  store: Pick<InstanceStore, 'getOperation'> & SnapshotImageStore;
  agents: AgentDirectory;
  catalog: CatalogCache;
  writer: ObservationWriter;
  clock: Clock;
  logger: Logger;
  settings: ReconcilerSettings;
  /** When this controller started: a step's deadline never counts time before it (see {@link InstanceReconciler}). */
  startedAt: Date;
  /** Called with the delay of a re-queue, so the controller looks again then rather than at the next sweep. */
  onRequeue: (afterMs: number) => void;
}

/**
 * Takes one idempotent step for one leased instance: read where it is and where it should be, make the driver calls
 * of that step, and write the result (with the lease released). Every step can be repeated from the start, which is
 * what makes crash recovery nothing more than leasing the instance again.
 *
 * A step's deadline counts from when its operation was accepted, or from when this controller started if that is
 * later: a controller that restarts after an outage gives interrupted steps a fresh window instead of failing every
 * one of them at once.
 *
 * Failures: an unreachable host is retried with backoff (measured by the HostReachable condition's transition time)
 * until the host-lost limit or the deadline, then the instance is in error with reason HostLost (a deletion is
 * finished without the host instead). A failed create releases the claim and addresses; a failed snapshot or an
 * impossible resize leaves the instance where it was and fails only the operation; everything else ends in error
 * with the reason recorded on the Ready condition and the operation.
 */
export class InstanceReconciler {
  constructor(private readonly deps: InstanceReconcilerDeps) {}

  async reconcile(instance: Instance, signal: AbortSignal): Promise<void> {
    const kind = STEP_KINDS[instance.phase];
    if (!kind) {
      // A due re-queue of a settled instance: nothing to do but let go of it.
      await this.write([{ uid: instance.uid, releaseLease: true }], instance);
      return;
    }
    let context: StepContext | null = null;
    let updates: ObservationUpdate[];
    try {
      const operation = await this.operationOf(instance);
      context = this.contextFor(instance, operation, kind, signal);
      if (instance.hostId === null && kind !== 'delete') {
        throw new StepFailure('no-host', 'NoHost', 'the instance has no host (its create failed); delete it and create a new one');
      }
      updates = await this.step(context, kind);
    } catch (error) {
      updates = context ? await this.failure(context, kind, error, signal) : this.unexpected(instance, error);
    }
    await context?.settled();
    await this.write(updates, instance);
  }

  private step(context: StepContext, kind: StepKind): Promise<ObservationUpdate[]> {
    const { settings, store } = this.deps;
    switch (kind) {
      case 'create':
        return provisionInstance(context, settings);
      case 'stop':
        return stopInstance(context, settings);
      case 'start':
        return startInstance(context);
      case 'reboot':
        return rebootInstance(context);
      case 'pause':
        return pauseInstance(context);
      case 'unpause':
        return unpauseInstance(context);
      case 'resize':
        return resizeInstance(context, settings);
      case 'snapshot':
        return snapshotInstance(context, store);
      case 'delete':
        return context.instance.hostId === null
          ? Promise.resolve(finalizeDeletion(context, 'the instance never reached a host'))
          : deleteInstance(context);
    }
  }

  /** The operation, for its parameters and start time. A create needs neither, so the hot path skips the read. */
  private async operationOf(instance: Instance): Promise<Operation | null> {
    if (instance.phase === 'provisioning' || !instance.currentOperationId) return null;
    return this.deps.store.getOperation(null, instance.currentOperationId);
  }

  private contextFor(instance: Instance, operation: Operation | null, kind: StepKind, signal: AbortSignal): StepContext {
    const { settings, clock } = this.deps;
    const operationStartedAt = operation?.createdAt ?? (instance.phase === 'provisioning' ? instance.createdAt : instance.updatedAt);
    const deadlineMs = settings.deadlines[kind];
    const windowStart = Math.max(operationStartedAt.getTime(), this.deps.startedAt.getTime());
    return new StepContext({
      instance,
      operation,
      operationStartedAt,
      deadline: new Date(windowStart + deadlineMs),
      deadlineMs,
      agent: instance.hostId ? (this.deps.agents.agentFor(instance.hostId) ?? null) : null,
      catalog: this.deps.catalog,
      writer: this.deps.writer,
      signal,
      now: () => clock.now(),
      progressAfterMs: settings.progressAfterMs,
      deadlineGraceMs: settings.deadlineGraceMs,
    });
  }

  private async failure(context: StepContext, kind: StepKind, error: unknown, signal: AbortSignal): Promise<ObservationUpdate[]> {
    const { instance } = context;
    if (error instanceof LeaseLostError) return [];
    if (signal.aborted || error instanceof StepAbortedError) return [{ uid: instance.uid, releaseLease: true }];
    if (isNetworkError(error)) {
      const retry = this.retryUnreachable(context, error);
      if (retry) return retry;
      if (kind === 'delete') {
        return finalizeDeletion(context, `host ${instance.hostId} unreachable; deleted without it (its agent removes the guest when it returns)`);
      }
      return this.failed(context, kind, new StepFailure('host-lost', 'HostLost', `host ${instance.hostId} is unreachable: ${messageOf(error)}`));
    }
    if (error instanceof GuestBootTimeoutError) {
      const message = `the guest did not become ready in time${error.detail ? `; console: ${error.detail}` : ''}`;
      return this.failed(context, kind, new StepFailure('boot-timeout', 'BootTimeout', message));
    }
    if (error instanceof StepDeadlineError) return this.failed(context, kind, new StepFailure('deadline-exceeded', 'DeadlineExceeded', error.message));
    if (error instanceof StepFailure) return this.failed(context, kind, error);
    this.deps.logger.warn({ uid: instance.uid, phase: instance.phase, ...errorDetails(error) }, 'controller step failed');
    return this.failed(context, kind, new StepFailure(`${kind}-failed`, `${capitalized(kind)}Failed`, messageOf(error)));
  }

  /** While the host has been unreachable for less than the host-lost limit (and the deadline holds): back off. */
  private retryUnreachable(context: StepContext, error: unknown): ObservationUpdate[] | null {
    const { instance } = context;
    const { settings } = this.deps;
    const now = context.now();
    const condition = findCondition(instance.conditions, HOST_REACHABLE);
    const since = condition?.status === 'False' ? new Date(condition.lastTransitionTime) : now;
    const downForMs = now.getTime() - since.getTime();
    if (downForMs >= settings.hostLostAfterMs || context.remainingMs() <= 0) return null;
    // Doubling backoff without a counter: wait about as long as the host has been down so far.
    const requeueAfterMs = Math.min(settings.maxRetryMs, Math.max(settings.minRetryMs, downForMs), context.remainingMs());
    this.deps.onRequeue(requeueAfterMs);
    return [
      {
        uid: instance.uid,
        statusMessage: `host ${instance.hostId ?? '(none)'} is unreachable; retrying in ${Math.ceil(requeueAfterMs / 1000)} s`,
        conditions: setCondition(instance.conditions, { type: HOST_REACHABLE, status: 'False', reason: 'HostUnreachable', message: messageOf(error) }, now),
        requeueAfterMs,
        releaseLease: true,
      },
    ];
  }

  private async failed(context: StepContext, kind: StepKind, failure: StepFailure): Promise<ObservationUpdate[]> {
    if (kind === 'snapshot') await failSnapshotImage(context, this.deps.store);
    const settles = failure.settle === 'desired-power' || kind === 'snapshot';
    const phase: InstancePhase = settles ? phaseForDesiredPower(context.instance) : 'error';
    const message = failure.message;
    return context.outcome({
      phase,
      ...(phase === 'error' ? { powerState: kind === 'create' ? 'unknown' : context.instance.powerState } : {}),
      statusMessage: phase === 'error' ? message : '',
      ready: phase === 'running' ? { status: 'True', reason: 'GuestReady', message } : { status: 'False', reason: failure.reason, message },
      steps: [context.step(kind, 'failed', message)],
      operation: { status: 'failed', error: { code: failure.code, message } },
      ...(kind === 'create' ? { releaseResources: true } : {}),
      ...(kind === 'resize' ? { patch: { pendingInstanceTypeId: null } } : {}),
    });
  }

  /** A failure before the step could even begin (the operation could not be read): let the lease lapse and retry. */
  private unexpected(instance: Instance, error: unknown): ObservationUpdate[] {
    this.deps.logger.warn({ uid: instance.uid, ...errorDetails(error) }, 'could not prepare a controller step');
    return [];
  }

  private async write(updates: ObservationUpdate[], instance: Instance): Promise<void> {
    if (updates.length === 0) return;
    try {
      const results = await this.deps.writer.write(updates.map((update) => ({ generation: instance.generation, ...update })));
      if (results.some((result) => result.kind === 'lease-lost')) {
        this.deps.logger.info({ uid: instance.uid }, 'lease lost before the step was recorded; another replica repeats it');
      }
    } catch (error) {
      this.deps.logger.error({ uid: instance.uid, ...errorDetails(error) }, 'recording a controller step failed; it repeats after the lease expires');
    }
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function capitalized(word: string): string {
  return word.charAt(0).toUpperCase() + word.slice(1);
}

import type { AgentClient } from '../agent/agent-client.js';
import type { Condition, Instance, Operation, OperationStep, PowerState } from '../core/instances/instance.js';
import type { InstancePhase } from '../core/instances/lifecycle.js';
import type { ObservationResult, ObservationUpdate } from '../core/ports.js';
import type { CatalogCache } from './catalog-cache.js';
import { clearHostUnreachable, READY, setCondition } from './conditions.js';
import type { ObservationWriter } from './observation-writer.js';
import { AgentUnavailableError, LeaseLostError, StepAbortedError, StepDeadlineError } from './step-errors.js';

/** Where one step leaves the instance. */
export interface StepOutcome {
  phase: InstancePhase;
  powerState?: PowerState;
  statusMessage: string;
  ready: { status: Condition['status']; reason: string; message?: string };
  /** Steps appended to the operation; the last one is recorded with the phase change. */
  steps: OperationStep[];
  /** How the operation ends; `null` leaves it open (an intermediate phase of a longer step). */
  operation: { status: 'succeeded' | 'failed'; error?: { code: string; message: string } } | null;
  patch?: ObservationUpdate['patch'];
  launchedAt?: Date;
  releaseResources?: boolean;
  finalizeDelete?: boolean;
}

export interface StepContextOptions {
  instance: Instance;
  operation: Operation | null;
  /** When the work began: the operation's creation (or the instance's, for a create). */
  operationStartedAt: Date;
  deadline: Date;
  deadlineMs: number;
  /** null when the instance has no host or its host has no agent here. */
  agent: AgentClient | null;
  catalog: CatalogCache;
  writer: ObservationWriter;
  signal: AbortSignal;
  now: () => Date;
  /** A driver call running longer than this gets a `started` step recorded, so slow work is visible. */
  progressAfterMs: number;
  /** How long past the deadline a driver call that waits for ready may run to report its own timeout. */
  deadlineGraceMs: number;
}

/** What a driver call gets: the time left and a signal that aborts when the controller stops or time runs out. */
export interface CallBudget {
  readyTimeoutMs: number;
  signal: AbortSignal;
}

/**
 * Everything one reconcile step needs: the instance, its operation, its host's agent, a clock and a deadline; and
 * the helpers that turn what the step learned into observation updates. One per step, never shared.
 */
export class StepContext {
  readonly instance: Instance;
  readonly operation: Operation | null;
  readonly catalog: CatalogCache;
  private conditions: Condition[];
  private progressWrite: Promise<unknown> | null = null;

  constructor(private readonly options: StepContextOptions) {
    this.instance = options.instance;
    this.operation = options.operation;
    this.catalog = options.catalog;
    this.conditions = [...options.instance.conditions];
  }

  /** The host's agent; a step that needs one and has none fails like an unreachable host (retried, then lost). */
  get agent(): AgentClient {
    if (!this.options.agent) throw new AgentUnavailableError(this.instance.hostId);
    return this.options.agent;
  }

  get operationId(): string | null {
    return this.instance.currentOperationId;
  }

  now(): Date {
    return this.options.now();
  }

  remainingMs(): number {
    return this.options.deadline.getTime() - this.now().getTime();
  }

  /** An operation step stamped now (or at `at`), with its time since the operation began. */
  step(name: string, status: OperationStep['status'], message?: string, at: Date = this.now()): OperationStep {
    return {
      name,
      status,
      at: at.toISOString(),
      elapsedMs: Math.max(0, at.getTime() - this.options.operationStartedAt.getTime()),
      ...(message ? { message } : {}),
    };
  }

  /**
   * Runs one driver call within the step's deadline. Calls that wait for a boot get the remaining time as their ready
   * timeout, so the driver reports its own timeout (with the serial tail); a call that ignores it is cut off
   * `deadlineGraceMs` later. A call still running after `progressAfterMs` gets a `started` step recorded.
   */
  async call<T>(name: string, message: string, run: (budget: CallBudget) => Promise<T>): Promise<T> {
    const remaining = this.remainingMs();
    if (remaining <= 0) throw new StepDeadlineError(name, this.options.deadlineMs);
    if (this.options.signal.aborted) throw new StepAbortedError();
    const startedAt = this.now();
    const abort = new AbortController();
    const onStop = () => abort.abort(new StepAbortedError());
    this.options.signal.addEventListener('abort', onStop, { once: true });
    let deadlineTimer: NodeJS.Timeout | undefined;
    const progressTimer = setTimeout(() => {
      // Progress is best-effort: a failed write must not fail the step (nor go unhandled).
      this.progressWrite = this.recordProgress(name, message, startedAt).catch(() => undefined);
    }, this.options.progressAfterMs);
    const cutOff = new Promise<never>((_resolve, reject) => {
      deadlineTimer = setTimeout(() => {
        const error = new StepDeadlineError(name, this.options.deadlineMs);
        abort.abort(error);
        reject(error);
      }, remaining + this.options.deadlineGraceMs);
      abort.signal.addEventListener('abort', () => reject(abort.signal.reason), { once: true });
    });
    try {
      return await Promise.race([run({ readyTimeoutMs: remaining, signal: abort.signal }), cutOff]);
    } finally {
      clearTimeout(deadlineTimer);
      clearTimeout(progressTimer);
      this.options.signal.removeEventListener('abort', onStop);
    }
  }

  /** Writes an intermediate update under the lease now (a resize's claim); throws {@link LeaseLostError}. */
  async record(update: Omit<ObservationUpdate, 'uid'>): Promise<ObservationResult> {
    await this.settled();
    const [result] = await this.writeNow(update);
    if (!result || result.kind === 'lease-lost') throw new LeaseLostError(this.instance.uid);
    return result;
  }

  /** Waits for a `started` step still being written, so the final update lands after it. */
  async settled(): Promise<void> {
    await this.progressWrite;
  }

  /**
   * The update that records an outcome: the phase, power, conditions, every step and the operation's end, as one
   * change of the instance and one of its operation (one event each), however many steps the driver reported. With
   * `operation: null` the lease is kept, so a further outcome can follow in the same write (a create that then stops).
   */
  outcome(outcome: StepOutcome): ObservationUpdate[] {
    const uid = this.instance.uid;
    const operationId = this.operationId;
    const now = this.now();
    const steps = outcome.steps;
    this.conditions = setCondition(
      clearHostUnreachable(this.conditions, now),
      { type: READY, status: outcome.ready.status, reason: outcome.ready.reason, message: outcome.ready.message ?? '' },
      now,
    );
    const closes = outcome.operation !== null;
    const final: ObservationUpdate = {
      uid,
      phase: outcome.phase,
      statusMessage: outcome.statusMessage,
      conditions: this.conditions,
      ...(outcome.powerState ? { powerState: outcome.powerState } : {}),
      ...(outcome.launchedAt ? { launchedAt: outcome.launchedAt } : {}),
      ...(outcome.releaseResources ? { releaseResources: true } : {}),
      ...(outcome.finalizeDelete ? { finalizeDelete: true } : {}),
    };
    if (closes) {
      final.observedGeneration = this.instance.generation;
      final.patch = { ...outcome.patch, currentOperationId: null };
      final.releaseLease = true;
    } else if (outcome.patch) {
      final.patch = outcome.patch;
    }
    if (operationId && (steps.length > 0 || outcome.operation)) {
      final.operation = {
        id: operationId,
        status: outcome.operation?.status ?? 'running',
        ...(steps.length > 0 ? { steps } : {}),
        ...(outcome.operation?.error ? { error: outcome.operation.error } : {}),
      };
    }
    return [final];
  }

  /** The conditions as this step has left them so far. */
  currentConditions(): Condition[] {
    return this.conditions;
  }

  private async recordProgress(name: string, message: string, startedAt: Date): Promise<void> {
    const operationId = this.operationId;
    await this.writeNow({
      statusMessage: message,
      ...(operationId ? { operation: { id: operationId, status: 'running' as const, steps: [this.step(name, 'started', message, startedAt)] } } : {}),
    });
  }

  /** A write during the step, fenced like its outcome: under the lease, at the generation the step acts on. */
  private writeNow(update: Omit<ObservationUpdate, 'uid'>): Promise<ObservationResult[]> {
    return this.options.writer.write([{ uid: this.instance.uid, generation: this.instance.generation, ...update }]);
  }
}

/** The stable phase an instance settles in when no further step is pending, from the power state its owner wants. */
export function phaseForDesiredPower(instance: Pick<Instance, 'desiredPower'>): 'running' | 'stopped' | 'paused' {
  return instance.desiredPower;
}

/** Boot timeline marks of a driver call as operation steps (`guest-boot`, `guest-ready`, …). */
export function timelineSteps(context: StepContext, timeline: Array<{ step: string; elapsedMs: number }> | undefined, bootStartedAt: Date): OperationStep[] {
  return (timeline ?? []).map((mark) =>
    context.step(`guest-${mark.step}`, 'succeeded', undefined, new Date(bootStartedAt.getTime() + mark.elapsedMs)),
  );
}

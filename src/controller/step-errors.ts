/** A step that did not finish before its deadline; the instance ends in error with this as the reason. */
export class StepDeadlineError extends Error {
  constructor(
    readonly step: string,
    readonly deadlineMs: number,
  ) {
    super(`${step} did not finish within its ${Math.round(deadlineMs / 1000)} s deadline`);
    this.name = 'StepDeadlineError';
  }
}

/** The step was abandoned because the controller is stopping; its lease is released and the step repeats later. */
export class StepAbortedError extends Error {
  constructor() {
    super('the controller is stopping');
    this.name = 'StepAbortedError';
  }
}

/** Another replica took the instance over (our lease expired); whatever we learned is dropped. */
export class LeaseLostError extends Error {
  constructor(readonly uid: string) {
    super(`lease on instance ${uid} was lost`);
    this.name = 'LeaseLostError';
  }
}

/**
 * A failure the step itself diagnosed, with the condition reason and operation error code to record. `settle` says
 * where the instance goes: `error` (the default), or back to the phase its desired power state implies (a failed
 * snapshot or resize leaves a working instance).
 */
export class StepFailure extends Error {
  constructor(
    readonly code: string,
    readonly reason: string,
    message: string,
    readonly settle: 'error' | 'desired-power' = 'error',
  ) {
    super(message);
    this.name = 'StepFailure';
  }
}

/**
 * The instance's host has no agent this process can reach (not registered yet, or gone). Handled like an unreachable
 * host: retried with backoff, and the host counts as lost after the host-lost limit.
 */
export class AgentUnavailableError extends Error {
  readonly code = 'EHOSTUNREACH';
  constructor(readonly hostId: string | null) {
    super(hostId ? `no agent is reachable for host ${hostId}` : 'the instance has no host');
    this.name = 'AgentUnavailableError';
  }
}

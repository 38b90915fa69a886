/** The kinds of controller step, each with its own deadline. */
export type StepKind = 'create' | 'start' | 'stop' | 'reboot' | 'pause' | 'unpause' | 'resize' | 'snapshot' | 'delete';

/**
 * Defaults sized for real guests (a QEMU boot under TCG can take a minute); tests and the simulated driver pass
 * seconds. A resize may power-cycle the guest, so it gets a stop plus a boot.
 */
export const DEFAULT_STEP_DEADLINES: Readonly<Record<StepKind, number>> = {
  create: 120_000,
  start: 120_000,
  stop: 90_000,
  reboot: 120_000,
  pause: 30_000,
  unpause: 30_000,
  resize: 210_000,
  snapshot: 600_000,
  delete: 60_000,
};

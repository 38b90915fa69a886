import type { ControllerStore } from '../core/ports.js';

/**
 * Keeps the leases of the instances this controller is working on alive while their driver calls run (a QEMU boot
 * takes far longer than a lease), renewing them all in one call every third of the lease time. A renewal that
 * fails is only logged: if the lease does lapse, the step's result is refused as `lease-lost` and another replica
 * repeats the (idempotent) step.
 */
export class LeaseKeeper {
  private readonly uids = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  private renewing = false;

  constructor(
    private readonly store: Pick<ControllerStore, 'renewLeases'>,
    private readonly owner: string,
    private readonly leaseMs: number,
    private readonly onError: (error: unknown) => void,
  ) {}

  start(): void {
    this.timer ??= setInterval(() => void this.renew(), Math.max(50, Math.floor(this.leaseMs / 3))).unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  hold(uid: string): void {
    this.uids.add(uid);
  }

  release(uid: string): void {
    this.uids.delete(uid);
  }

  private async renew(): Promise<void> {
    if (this.renewing || this.uids.size === 0) return;
    this.renewing = true;
    try {
      await this.store.renewLeases(this.owner, [...this.uids], this.leaseMs);
    } catch (error) {
      this.onError(error);
    } finally {
      this.renewing = false;
    }
  }
}

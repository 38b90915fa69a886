/**
 * A store housekeeping job on a timer (statistics, retention): one run at a time, a run asked for while one is under
 * way joins it, and a failed run is only a missed run (it resolves with `onFailure`). The timer never holds the
 * process open.
 */
export class PeriodicTask<T> {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<T> | null = null;

  constructor(
    private readonly intervalMs: number,
    private readonly work: () => Promise<T>,
    private readonly onFailure: T,
  ) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.run(), this.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }

  /** One run (or the one under way). */
  run(): Promise<T> {
    this.running ??= this.work()
      .catch(() => this.onFailure)
      .finally(() => {
        this.running = null;
      });
    return this.running;
  }
}

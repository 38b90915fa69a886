/**
 * A tiny Prometheus registry: counters, gauges and histograms with labels, rendered in the text exposition format.
 * Written by hand because the API needs three metric types, not a client library.
 */

type Labels = Record<string, string>;

function escapeLabel(value: string): string {
  return value.replaceAll('\\', '\\\\').replaceAll('\n', '\\n').replaceAll('"', '\\"');
}

function labelText(names: readonly string[], values: readonly string[], extra = ''): string {
  const parts = names.map((name, index) => `${name}="${escapeLabel(values[index] ?? '')}"`);
  if (extra) parts.push(extra);
  return parts.length ? `{${parts.join(',')}}` : '';
}

abstract class Metric {
  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
  ) {
    if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(name)) throw new Error(`invalid metric name ${name}`);
  }

  protected key(labels: Labels): string {
    return this.labelNames.map((name) => labels[name] ?? '').join('\u0000');
  }

  protected values(key: string): string[] {
    return this.labelNames.length ? key.split('\u0000') : [];
  }

  abstract render(): string;
}

/** A monotonically increasing count. */
export class Counter extends Metric {
  private readonly series = new Map<string, number>();

  inc(labels: Labels = {}, amount = 1): void {
    const key = this.key(labels);
    this.series.set(key, (this.series.get(key) ?? 0) + amount);
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    for (const [key, value] of this.series) lines.push(`${this.name}${labelText(this.labelNames, this.values(key))} ${value}`);
    return lines.join('\n');
  }
}

/** A value that goes up and down. */
export class Gauge extends Metric {
  private readonly series = new Map<string, number>();

  set(labels: Labels, value: number): void {
    this.series.set(this.key(labels), value);
  }

  inc(labels: Labels = {}, amount = 1): void {
    const key = this.key(labels);
    this.series.set(key, (this.series.get(key) ?? 0) + amount);
  }

  dec(labels: Labels = {}, amount = 1): void {
    this.inc(labels, -amount);
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} gauge`];
    for (const [key, value] of this.series) lines.push(`${this.name}${labelText(this.labelNames, this.values(key))} ${value}`);
    return lines.join('\n');
  }
}

/** Request latencies in seconds: 1 ms to 10 s. */
export const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Observations counted into cumulative buckets, with their sum and count. */
export class Histogram extends Metric {
  private readonly series = new Map<string, { counts: number[]; sum: number; count: number }>();

  constructor(
    name: string,
    help: string,
    labelNames: readonly string[],
    readonly buckets: readonly number[] = LATENCY_BUCKETS,
  ) {
    super(name, help, labelNames);
  }

  observe(labels: Labels, value: number): void {
    const key = this.key(labels);
    let entry = this.series.get(key);
    if (!entry) {
      entry = { counts: this.buckets.map(() => 0), sum: 0, count: 0 };
      this.series.set(key, entry);
    }
    // Non-cumulative here; render() accumulates, so an observation costs one increment.
    const index = this.buckets.findIndex((bound) => value <= bound);
    if (index >= 0) entry.counts[index] = (entry.counts[index] ?? 0) + 1;
    entry.sum += value;
    entry.count += 1;
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    for (const [key, entry] of this.series) {
      const values = this.values(key);
      let cumulative = 0;
      this.buckets.forEach((bound, index) => {
        cumulative += entry.counts[index] ?? 0;
        lines.push(`${this.name}_bucket${labelText(this.labelNames, values, `le="${bound}"`)} ${cumulative}`);
      });
      lines.push(`${this.name}_bucket${labelText(this.labelNames, values, 'le="+Inf"')} ${entry.count}`);
      lines.push(`${this.name}_sum${labelText(this.labelNames, values)} ${entry.sum}`);
      lines.push(`${this.name}_count${labelText(this.labelNames, values)} ${entry.count}`);
    }
    return lines.join('\n');
  }
}

/**
 * The metrics of one process. The API server records request counts and latencies here; other components get or
 * create their own metrics by name (`registry.counter('kumo_instances_created_total', …).inc()`).
 */
export class MetricsRegistry {
  private readonly metrics = new Map<string, Metric>();

  counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    return this.getOrCreate(name, Counter, () => new Counter(name, help, labelNames));
  }

  gauge(name: string, help: string, labelNames: readonly string[] = []): Gauge {
    return this.getOrCreate(name, Gauge, () => new Gauge(name, help, labelNames));
  }

  histogram(name: string, help: string, labelNames: readonly string[] = [], buckets?: readonly number[]): Histogram {
    return this.getOrCreate(name, Histogram, () => new Histogram(name, help, labelNames, buckets));
  }

  /** The Prometheus text exposition (version 0.0.4) of every metric. */
  render(): string {
    return `${[...this.metrics.values()].map((metric) => metric.render()).join('\n')}\n`;
  }

  private getOrCreate<T extends Metric>(name: string, type: new (...args: never[]) => T, create: () => T): T {
    const existing = this.metrics.get(name);
    if (existing) {
      if (!(existing instanceof type)) throw new Error(`metric ${name} already exists with another type`);
      return existing;
    }
    const metric = create();
    this.metrics.set(name, metric);
    return metric;
  }
}

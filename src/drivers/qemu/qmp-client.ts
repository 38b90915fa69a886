import { EventEmitter } from 'node:events';
import { connect, type Socket } from 'node:net';

/** An asynchronous QMP event such as `SHUTDOWN`, `RESET`, `STOP` or `BLOCK_JOB_READY`. */
export interface QmpEvent {
  event: string;
  data?: Record<string, unknown>;
  timestamp?: { seconds: number; microseconds: number };
}

/** QEMU answered a command with `error`. */
export class QmpCommandError extends Error {
  constructor(
    readonly command: string,
    readonly errorClass: string,
    readonly description: string,
  ) {
    super(`QMP ${command} failed: ${errorClass}: ${description}`);
    this.name = 'QmpCommandError';
  }
}

interface Pending {
  command: string;
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
}

interface QmpClientEvents {
  event: [QmpEvent];
  close: [];
}

/**
 * A QMP client over QEMU's unix socket: JSON objects, one per line. After {@link QmpClient.connect} the greeting is read
 * and capabilities negotiated. Commands carry an id, so several may be in flight; replies (`return` or `error`) are
 * matched by id, and everything else is an event, emitted as `event`. When the socket closes (QEMU exited), every
 * pending command rejects and `close` is emitted once.
 */
export class QmpClient extends EventEmitter<QmpClientEvents> {
  private buffer = '';
  private nextId = 1;
  private readonly pending = new Map<string, Pending>();
  private closed = false;

  private constructor(private readonly socket: Socket) {
    super();
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => this.onData(chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => this.onClose());
  }

  /** Connects, reads the greeting and runs `qmp_capabilities`; rejects when QEMU does not answer within the timeout. */
  static async connect(socketPath: string, timeoutMs = 5000): Promise<QmpClient> {
    const socket = await new Promise<Socket>((resolve, reject) => {
      const candidate = connect(socketPath);
      candidate.once('connect', () => {
        candidate.removeListener('error', reject);
        resolve(candidate);
      });
      candidate.once('error', reject);
    });
    const client = new QmpClient(socket);
    const timer = setTimeout(() => socket.destroy(new Error('QMP greeting timed out')), timeoutMs);
    try {
      await client.greeting();
      await client.execute('qmp_capabilities');
    } catch (error) {
      client.close();
      throw error;
    } finally {
      clearTimeout(timer);
    }
    return client;
  }

  /** True until the socket closed. */
  get connected(): boolean {
    return !this.closed;
  }

  /** Runs a command and resolves with its `return` value; rejects with {@link QmpCommandError} on `error`. */
  execute<T = unknown>(command: string, args?: Record<string, unknown>): Promise<T> {
    if (this.closed) return Promise.reject(new Error(`QMP ${command}: connection closed`));
    const id = `kumo-${this.nextId++}`;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { command, resolve: resolve as (value: unknown) => void, reject });
      this.socket.write(`${JSON.stringify(args ? { execute: command, arguments: args, id } : { execute: command, id })}\n`);
    });
  }

  /** Resolves with the first event named `name` that satisfies `match`, or rejects after the timeout or on close. */
  waitForEvent(name: string, timeoutMs: number, match: (event: QmpEvent) => boolean = () => true): Promise<QmpEvent> {
    return new Promise((resolve, reject) => {
      const onEvent = (event: QmpEvent): void => {
        if (event.event === name && match(event)) finish(() => resolve(event));
      };
      const onClose = (): void => finish(() => reject(new Error(`QMP closed while waiting for ${name}`)));
      const timer = setTimeout(() => finish(() => reject(new Error(`timed out waiting for QMP event ${name}`))), timeoutMs);
      const finish = (settle: () => void): void => {
        clearTimeout(timer);
        this.off('event', onEvent);
        this.off('close', onClose);
        settle();
      };
      this.on('event', onEvent);
      this.on('close', onClose);
    });
  }

  /** Resolves once the socket has closed (QEMU exited or {@link close} was called). */
  closedPromise(): Promise<void> {
    return this.closed ? Promise.resolve() : new Promise((resolve) => this.once('close', resolve));
  }

  /** Closes the connection; QEMU keeps running. */
  close(): void {
    this.socket.destroy();
  }

  private greetingResolve: ((value: void) => void) | undefined;

  private greeting(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.greetingResolve = resolve;
      this.once('close', () => reject(new Error('QMP closed before its greeting')));
    });
  }

  private onData(chunk: string): void {
    this.buffer += chunk;
    let newline: number;
    while ((newline = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, newline).trim();
      this.buffer = this.buffer.slice(newline + 1);
      if (line) this.onMessage(line);
    }
  }

  private onMessage(line: string): void {
    let message: Record<string, unknown>;
    try {
      message = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    if ('QMP' in message) {
      this.greetingResolve?.();
      this.greetingResolve = undefined;
      return;
    }
    if (typeof message.event === 'string') {
      this.emit('event', message as unknown as QmpEvent);
      return;
    }
    const id = typeof message.id === 'string' ? message.id : undefined;
    const pending = id ? this.pending.get(id) : undefined;
    if (!id || !pending) return;
    this.pending.delete(id);
    if ('error' in message) {
      const error = (message.error ?? {}) as { class?: string; desc?: string };
      pending.reject(new QmpCommandError(pending.command, error.class ?? 'GenericError', error.desc ?? 'unknown error'));
    } else {
      pending.resolve(message.return);
    }
  }

  private onClose(): void {
    if (this.closed) return;
    this.closed = true;
    for (const pending of this.pending.values()) pending.reject(new Error(`QMP ${pending.command}: connection closed`));
    this.pending.clear();
    this.emit('close');
  }
}

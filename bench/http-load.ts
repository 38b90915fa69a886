import http from 'node:http';
import net from 'node:net';

export interface HttpResult {
  status: number;
  body: string;
}

interface Waiter {
  head: Buffer;
  payload: Buffer | undefined;
  resolve: (result: HttpResult) => void;
  reject: (error: Error) => void;
}

const HEADER_END = Buffer.from('\r\n\r\n');

/**
 * One keep-alive HTTP/1.1 connection that sends a request and parses the response itself: status line, headers,
 * then a Content-Length or chunked body. Node's http client spent ≈0.17 ms of CPU a request in the load generator
 * (its parser, agent, IncomingMessage streams and events), CPU taken from the server under test on the same two cores.
 */
class RawConnection {
  private readonly socket: net.Socket;
  private buffer: Buffer = Buffer.alloc(0);
  private current: Waiter | undefined;
  closed = false;

  constructor(
    host: string,
    port: number,
    private readonly onIdle: (connection: RawConnection) => void,
    onClose: () => void,
  ) {
    this.socket = net.connect({ host, port, noDelay: true });
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.socket.on('error', (error) => this.fail(error));
    this.socket.on('close', () => {
      this.fail(new Error('connection closed'));
      onClose();
    });
  }

  send(waiter: Waiter): void {
    this.current = waiter;
    this.socket.write(waiter.payload ? Buffer.concat([waiter.head, waiter.payload]) : waiter.head);
  }

  destroy(): void {
    this.closed = true;
    this.socket.destroy();
  }

  private fail(error: Error): void {
    this.closed = true;
    const waiter = this.current;
    this.current = undefined;
    waiter?.reject(error);
  }

  private onData(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    const waiter = this.current;
    if (!waiter) return;
    const headerEnd = this.buffer.indexOf(HEADER_END);
    if (headerEnd < 0) return;
    const head = this.buffer.toString('latin1', 0, headerEnd);
    const status = Number(head.slice(9, 12));
    const bodyStart = headerEnd + 4;
    const lengthMatch = /\r\ncontent-length:\s*(\d+)/i.exec(head);
    let body: string;
    let consumed: number;
    if (lengthMatch) {
      const length = Number(lengthMatch[1]);
      if (this.buffer.length < bodyStart + length) return;
      body = this.buffer.toString('utf8', bodyStart, bodyStart + length);
      consumed = bodyStart + length;
    } else if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) {
      const parts: Buffer[] = [];
      let at = bodyStart;
      for (;;) {
        const lineEnd = this.buffer.indexOf('\r\n', at);
        if (lineEnd < 0) return;
        const size = parseInt(this.buffer.toString('latin1', at, lineEnd), 16);
        if (this.buffer.length < lineEnd + 2 + size + 2) return;
        if (size === 0) {
          consumed = lineEnd + 4;
          break;
        }
        parts.push(this.buffer.subarray(lineEnd + 2, lineEnd + 2 + size));
        at = lineEnd + 2 + size + 2;
      }
      body = Buffer.concat(parts).toString('utf8');
    } else {
      body = '';
      consumed = bodyStart;
    }
    this.buffer = this.buffer.subarray(consumed);
    this.current = undefined;
    const close = /\r\nconnection:\s*close/i.test(head);
    if (close) this.destroy();
    waiter.resolve({ status, body });
    if (!close) this.onIdle(this);
  }
}

/**
 * A keep-alive HTTP/1.1 client lighter than Node's own, so the load generator steals less CPU from the server it
 * measures: at most `sockets` connections, requests queue beyond that.
 */
export class HttpLoad {
  private readonly idle: RawConnection[] = [];
  private readonly queue: Waiter[] = [];
  private open = 0;
  private readonly host: string;
  private readonly port: number;

  constructor(
    baseUrl: string,
    private readonly token: string,
    private readonly sockets: number,
  ) {
    const base = new URL(baseUrl);
    this.host = base.hostname;
    this.port = Number(base.port);
  }

  request(method: string, path: string, body?: unknown): Promise<HttpResult> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const head = Buffer.from(
      `${method} ${path} HTTP/1.1\r\nhost: ${this.host}:${this.port}\r\nauthorization: Bearer ${this.token}\r\n` +
        (payload ? `content-type: application/json\r\ncontent-length: ${payload.length}\r\n` : '') +
        '\r\n',
      'latin1',
    );
    return new Promise((resolve, reject) => {
      const waiter: Waiter = { head, payload, resolve, reject };
      let connection = this.idle.pop();
      while (connection?.closed) connection = this.idle.pop();
      if (connection) connection.send(waiter);
      else if (this.open < this.sockets) this.connect().send(waiter);
      else this.queue.push(waiter);
    });
  }

  close(): void {
    for (const connection of this.idle.splice(0)) connection.destroy();
  }

  private connect(): RawConnection {
    this.open++;
    return new RawConnection(
      this.host,
      this.port,
      (idle) => {
        const next = this.queue.shift();
        if (next) idle.send(next);
        else this.idle.push(idle);
      },
      () => {
        this.open--;
        // Whatever queued for a connection this one would have freed gets a new one.
        const next = this.queue.shift();
        if (next) this.connect().send(next);
      },
    );
  }
}

/** Reads a server-sent event stream and calls `onEvent` for each frame. Returns a function that closes it. */
export function openEventStream(
  url: string,
  token: string,
  onEvent: (event: { id: string; type: string; data: string }) => void,
): Promise<() => void> {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const req = http.get(
      { host: target.hostname, port: target.port, path: `${target.pathname}${target.search}`, headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' } },
      (res) => {
        if (res.statusCode !== 200) return reject(new Error(`event stream answered ${res.statusCode}`));
        let buffer = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buffer += chunk;
          // Frames are cut by position and the rest kept once per chunk: slicing the rest off after every frame
          // copied a 500-event read once per event.
          let start = 0;
          let end;
          while ((end = buffer.indexOf('\n\n', start)) >= 0) {
            const frame = buffer.slice(start, end);
            start = end + 2;
            const event = { id: '', type: 'message', data: '' };
            for (const line of frame.split('\n')) {
              if (line.startsWith('id:')) event.id = line.slice(3).trim();
              else if (line.startsWith('event:')) event.type = line.slice(6).trim();
              else if (line.startsWith('data:')) event.data += line.slice(5).trim();
            }
            if (event.data) onEvent(event);
          }
          buffer = buffer.slice(start);
        });
        resolve(() => req.destroy());
      },
    );
    req.on('error', reject);
  });
}

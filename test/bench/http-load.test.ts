import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { HttpLoad } from '../../bench/http-load.js';

// The benchmark's own HTTP client against Node's HTTP server: framing, keep-alive and the socket limit.
describe('bench HttpLoad', () => {
  let server: http.Server;
  let base = '';
  let connections = 0;

  before(async () => {
    server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        if (req.url === '/chunked') {
          res.writeHead(200, { 'content-type': 'text/plain' });
          res.write('first part, ');
          setTimeout(() => res.end('second part ✓'), 5);
        } else if (req.url === '/close') {
          res.writeHead(200, { connection: 'close', 'content-length': '2' });
          res.end('ok');
        } else if (req.url === '/slow') {
          setTimeout(() => res.writeHead(204).end(), 20);
        } else {
          const answer = JSON.stringify({ method: req.method, url: req.url, auth: req.headers.authorization, type: req.headers['content-type'], body });
          res.writeHead(req.method === 'POST' ? 201 : 200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(answer) });
          res.end(answer);
        }
      });
    });
    server.on('connection', () => connections++);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  /** Runs `use` with a new client and closes it after; `opened()` counts the connections the server saw since. */
  async function withClient(token: string, sockets: number, use: (client: HttpLoad, opened: () => number) => Promise<void>): Promise<void> {
    const client = new HttpLoad(base, token, sockets);
    const before = connections;
    try {
      await use(client, () => connections - before);
    } finally {
      client.close();
    }
  }

  it('sends the method, path, token and a JSON body, and reads a Content-Length answer', async () => {
    await withClient('tok-1', 1, async (client) => {
      const res = await client.request('POST', '/things?x=1', { name: 'héllo', n: 3 });
      assert.equal(res.status, 201);
      assert.deepEqual(JSON.parse(res.body), {
        method: 'POST',
        url: '/things?x=1',
        auth: 'Bearer tok-1',
        type: 'application/json',
        body: JSON.stringify({ name: 'héllo', n: 3 }),
      });
      const get = await client.request('GET', '/things');
      assert.equal(get.status, 200);
      assert.equal(JSON.parse(get.body).body, '');
    });
  });

  it('reads a chunked answer and an answer without a body', async () => {
    await withClient('tok', 1, async (client) => {
      assert.deepEqual(await client.request('GET', '/chunked'), { status: 200, body: 'first part, second part ✓' });
      assert.deepEqual(await client.request('GET', '/slow'), { status: 204, body: '' });
    });
  });

  it('keeps connections alive, opens at most `sockets` of them and queues the rest', async () => {
    await withClient('tok', 2, async (client, opened) => {
      for (let i = 0; i < 5; i++) assert.equal((await client.request('GET', `/seq/${i}`)).status, 200);
      assert.equal(opened(), 1);
      const answers = await Promise.all(Array.from({ length: 6 }, (_, i) => client.request('GET', i % 2 ? '/slow' : `/p/${i}`)));
      assert.deepEqual(answers.map((answer) => answer.status), [200, 204, 200, 204, 200, 204]);
      assert.equal(opened(), 2);
    });
  });

  it('opens a new connection after an answer that closes its own', async () => {
    await withClient('tok', 1, async (client, opened) => {
      assert.deepEqual(await client.request('GET', '/close'), { status: 200, body: 'ok' });
      assert.equal((await client.request('GET', '/after-close')).status, 200);
      assert.equal(opened(), 2);
    });
  });
});

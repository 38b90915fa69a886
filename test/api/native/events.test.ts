import assert from 'node:assert/strict';
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { startNativeHarness, type TestKumo } from './native-harness.js';
import { BASE, createInstance } from './native-client.js';

interface SseEvent {
  id: string;
  event: string;
  data: Record<string, unknown>;
}

let kumo: TestKumo;
let token: string;
let port: number;

before(async () => {
  kumo = await startNativeHarness();
  token = await kumo.createProjectKey('project-x9y8z7', 'reader');
  await kumo.app.listen({ port: 0, host: '127.0.0.1' });
  port = (kumo.app.server.address() as AddressInfo).port;
});
after(async () => kumo.close());

/** Opens the stream and collects events until `until` says stop; returns them and the raw text. */
function readEvents(headers: Record<string, string>, query: string, until: (events: SseEvent[]) => boolean, timeoutMs = 10_000) {
  return new Promise<{ events: SseEvent[]; raw: string; status: number; contentType: string }>((resolve, reject) => {
    const events: SseEvent[] = [];
    let raw = '';
    const req = request({ host: '127.0.0.1', port, path: `${BASE}/events${query}`, headers: { authorization: `Bearer ${token}`, ...headers } }, (res) => {
      const finish = () => {
        clearTimeout(timer);
        req.destroy();
        resolve({ events, raw, status: res.statusCode ?? 0, contentType: String(res.headers['content-type']) });
      };
      const timer = setTimeout(finish, timeoutMs);
      if (res.statusCode !== 200) {
        res.resume();
        return finish();
      }
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        raw += chunk;
        const frames = raw.split('\n\n');
        events.length = 0;
        for (const frame of frames) {
          const fields = Object.fromEntries(frame.split('\n').filter((line) => line && !line.startsWith(':')).map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 2)]));
          if (fields.id && fields.event && fields.data && frame.endsWith('}')) events.push({ id: fields.id, event: fields.event, data: JSON.parse(fields.data) });
        }
        if (until(events)) finish();
      });
    });
    req.on('error', reject);
    req.end();
  });
}

describe('event stream', () => {
  it('streams changes as native views and resumes after Last-Event-ID', async () => {
    const live = readEvents({}, '', (events) => events.some((event) => event.event === 'instance.created'));
    await new Promise((resolve) => setTimeout(resolve, 100));
    const member = await kumo.createProjectKey('project-x9y8z7', 'member');
    const created = await createInstance(kumo.app, member);
    const first = await live;
    assert.equal(first.status, 200);
    assert.match(first.contentType, /^text\/event-stream/);
    const event = first.events.find((candidate) => candidate.event === 'instance.created' && candidate.data.uid === created.uid);
    assert.ok(event, first.raw);
    assert.equal(event.data.selfLink, `${BASE}/compute/instances/${created.id}`);
    assert.equal((event.data.lifecycle as { status: string }).status, 'PROVISIONING');

    // Reconnect after the created event: the next event is a later change of the same project, never the same one.
    const resumed = await readEvents({ 'last-event-id': event.id }, '', (events) => events.length > 0);
    assert.ok(resumed.events.length > 0, resumed.raw);
    assert.ok(resumed.events.every((later) => Number(later.id) > Number(event.id)));
    const viaQuery = await readEvents({}, `?after=${event.id}`, (events) => events.length > 0);
    assert.equal(viaQuery.events[0]?.id, resumed.events[0]?.id);
  });

  it('sends heartbeats and refuses a malformed Last-Event-ID', async () => {
    const quiet = await readEvents({}, '', () => false, 700);
    assert.match(quiet.raw, /: heartbeat/);
    const bad = await readEvents({ 'last-event-id': 'yesterday' }, '', () => true, 2_000);
    assert.equal(bad.status, 400);
  });
});

import assert from 'node:assert/strict';
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { startTestKumo } from '../../support/test-kumo.js';
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
  // The full harness already serves on a port; the in-memory one does not.
  if (!kumo.app.server.listening) await kumo.app.listen({ port: 0, host: '127.0.0.1' });
  port = (kumo.app.server.address() as AddressInfo).port;
});
after(async () => kumo.close());

/** Event ids are `<transaction>.<event>` positions, ordered by both parts as numbers. */
function compareEventIds(a: string, b: string): number {
  const [ax, ai] = a.split('.').map(BigInt);
  const [bx, bi] = b.split('.').map(BigInt);
  return ax! !== bx! ? (ax! > bx! ? 1 : -1) : ai! === bi! ? 0 : ai! > bi! ? 1 : -1;
}

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
    assert.ok(resumed.events.every((later) => compareEventIds(later.id, event.id) > 0));
    const viaQuery = await readEvents({}, `?after=${event.id}`, (events) => events.length > 0);
    assert.equal(viaQuery.events[0]?.id, resumed.events[0]?.id);
  });

  it('a create to RUNNING is two changes of the instance and two of its operation, the boot steps in one', async () => {
    const member = await kumo.createProjectKey('project-x9y8z7', 'member');
    let uid = '';
    const succeeded = (events: SseEvent[]) =>
      events.some((event) => event.event === 'operation.updated' && event.data.targetUid === uid && event.data.status === 'DONE');
    const live = readEvents({}, '', (events) => uid !== '' && succeeded(events));
    await new Promise((resolve) => setTimeout(resolve, 100));
    uid = (await createInstance(kumo.app, member)).uid;
    const { events, raw } = await live;
    assert.ok(succeeded(events), raw);
    // Anything the step wrote after its outcome would follow within moments; look once more before counting.
    const last = events[events.length - 1]!;
    const later = await readEvents({ 'last-event-id': last.id }, '', () => false, 500);
    const mine = [...events, ...later.events].filter((event) => event.data.uid === uid || event.data.targetUid === uid);
    assert.deepEqual(
      mine.map((event) => `${event.event} ${String((event.data.lifecycle as { status?: string } | undefined)?.status ?? event.data.status)}`),
      ['instance.created PROVISIONING', 'operation.created PENDING', 'instance.updated RUNNING', 'operation.updated DONE'],
    );
    const steps = (mine[3]!.data.steps as Array<{ name: string; status: string }>).map((step) => `${step.name} ${step.status}`);
    assert.equal(steps[0], 'accepted SUCCEEDED');
    assert.equal(steps[steps.length - 1], 'running SUCCEEDED');
    assert.ok(steps.includes('guest-ready SUCCEEDED'), steps.join(', '));
  });

  it('sends heartbeats', async () => {
    // The interval is a server option; a short one spares the test a 15 s wait.
    const quick = await startTestKumo({ sseHeartbeatMs: 100 });
    try {
      const quickPort = (quick.app.server.address() as AddressInfo).port;
      const quickToken = await quick.createProjectKey('project-x9y8z7', 'reader');
      const raw = await new Promise<string>((resolve, reject) => {
        let text = '';
        const req = request({ host: '127.0.0.1', port: quickPort, path: `${BASE}/events`, headers: { authorization: `Bearer ${quickToken}` } }, (res) => {
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            text += chunk;
            if (text.includes(': heartbeat')) {
              req.destroy();
              resolve(text);
            }
          });
        });
        req.on('error', reject);
        req.end();
        setTimeout(() => {
          req.destroy();
          resolve(text);
        }, 3_000);
      });
      assert.match(raw, /: heartbeat/);
    } finally {
      await quick.close();
    }
  });

  it('refuses a malformed Last-Event-ID', async () => {
    const bad = await readEvents({ 'last-event-id': 'yesterday' }, '', () => true, 2_000);
    assert.equal(bad.status, 400);
  });
});

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { startTestKumo, type TestKumo } from '../support/test-kumo.js';

const run = promisify(execFile);
const CLI = join(process.cwd(), 'dist/src/cli/main.js');

let kumo: TestKumo;
before(async () => {
  kumo = await startTestKumo();
});
after(async () => kumo.close());

/** Runs `kumo …` as a user would, against the test server; resolves with stdout or rejects with the exit error. */
async function kumoCli(args: string[], token = kumo.adminToken): Promise<string> {
  const { stdout } = await run(process.execPath, [CLI, ...args], {
    env: { ...process.env, KUMO_URL: kumo.url, KUMO_TOKEN: token },
    timeout: 30_000,
  });
  return stdout;
}

describe('kumo CLI', () => {
  it('creates with --wait, showing the operation steps, then lists and gets', async () => {
    const out = await kumoCli(['instance', 'create', 'cli-1', '--type', 'g1-small', '--label', 'env=dev', '--wait']);
    assert.match(out, /accepted/);
    assert.match(out, /cli-1\tRUNNING\t10\.0\./);
    const list = await kumoCli(['instance', 'list']);
    assert.match(list, /^NAME\tSTATUS/m);
    assert.match(list, /cli-1\tRUNNING/);
    const json = JSON.parse(await kumoCli(['instance', 'get', 'cli-1', '--output', 'json'])) as { id: string; labels: Record<string, string> };
    assert.equal(json.id, 'cli-1');
    assert.deepEqual(json.labels, { env: 'dev' });
  });

  it('stops, starts, reboots and deletes with --wait', async () => {
    assert.match(await kumoCli(['instance', 'stop', 'cli-1', '--wait']), /cli-1\tSTOPPED/);
    assert.match(await kumoCli(['instance', 'start', 'cli-1', '--wait']), /cli-1\tRUNNING/);
    assert.match(await kumoCli(['instance', 'reboot', 'cli-1', '--hard', '--wait']), /cli-1\tRUNNING/);
    assert.match(await kumoCli(['instance', 'delete', 'cli-1', '--wait']), /cli-1\tDELETED/);
    assert.doesNotMatch(await kumoCli(['instance', 'list']), /cli-1/);
  });

  it('exits non-zero with the API error and its field paths', async () => {
    await assert.rejects(kumoCli(['instance', 'create', 'Bad_Name']), (error: { code: number; stderr: string }) => {
      assert.equal(error.code, 1);
      assert.match(error.stderr, /INVALID_ARGUMENT/);
      assert.match(error.stderr, /\/id/);
      return true;
    });
    await assert.rejects(kumoCli(['instance', 'list'], 'not-a-key'), /UNAUTHENTICATED/);
  });

  it('administers teams, projects, keys, billing, quotas and the catalog', async () => {
    const team = (await kumoCli(['admin', 'team', 'create', 'acme'])).trim().split('\t');
    assert.equal(team[1], 'acme');
    assert.match(await kumoCli(['admin', 'project', 'create', 'acme-web', '--team', 'acme']), /^acme-web\t/);
    const [, token] = (await kumoCli(['admin', 'key', 'create', '--project', 'acme-web', '--role', 'member'])).trim().split('\n');
    assert.ok(token);

    const catalogFile = join(kumo.dataDir, 'catalog.json');
    await writeFile(
      catalogFile,
      JSON.stringify({ networks: [{ id: 'acme-net', regionId: 'us-texas-1', projectId: 'acme-web', subnets: [{ id: 'acme-v4', cidr: '10.200.0.0/24' }] }] }),
    );
    assert.match(await kumoCli(['admin', 'catalog', 'load', catalogFile]), /loaded/);
    assert.match(await kumoCli(['admin', 'quota', 'set', 'acme-web', '--instances', '1']), /"instances":1/);

    const asMember = (args: string[]) => kumoCli([...args, '--project', 'acme-web'], token);
    assert.match(await asMember(['instance', 'create', 'a-1', '--type', 'g1-small', '--wait']), /a-1\tRUNNING\t10\.200\.0\./);
    await assert.rejects(asMember(['instance', 'create', 'a-2', '--type', 'g1-small']), /QUOTA_EXCEEDED/);

    assert.match(await kumoCli(['admin', 'team', 'set-billing', 'acme', '--status', 'suspended']), /acme\tsuspended/);
    await assert.rejects(asMember(['instance', 'start', 'a-1']), /BILLING/);
    assert.match(await asMember(['instance', 'delete', 'a-1', '--wait']), /DELETED/);
    assert.match(await kumoCli(['admin', 'team', 'list']), /acme\tsuspended\tacme-web/);
  });
});

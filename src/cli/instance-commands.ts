import { readFileSync } from 'node:fs';
import { flag, option, options, type ParsedArguments } from './arguments.js';
import type { KumoClient } from './kumo-client.js';

interface Operation {
  id: string;
  status: string;
  steps?: Array<{ name: string; status: string; at: string; message?: string }>;
  error?: { code: string; message: string } | null;
}

interface InstanceView {
  id: string;
  uid: string;
  lifecycle: { status: string; statusMessage?: string };
  nics?: Array<{ ipv4Address?: string; externalIpv4?: string }>;
  type: string;
  createdAt: string;
}

export interface CliContext {
  client: KumoClient;
  region: string;
  project: string;
  zone: string;
  json: boolean;
  out: (line: string) => void;
}

const instancesPath = (ctx: CliContext) => `/v1/regions/${ctx.region}/projects/${ctx.project}/compute/instances`;
const DONE = new Set(['DONE', 'FAILED', 'succeeded', 'failed', 'SUCCEEDED']);

/** Polls an operation, printing each new step, until it completes; returns the final operation. */
async function waitForOperation(ctx: CliContext, operationId: string, timeoutMs = 15 * 60_000): Promise<Operation> {
  const deadline = Date.now() + timeoutMs;
  let printed = 0;
  for (;;) {
    const operation = await ctx.client.request<Operation>('GET', `/v1/regions/${ctx.region}/projects/${ctx.project}/operations/${operationId}`);
    const steps = operation.steps ?? [];
    if (!ctx.json) {
      for (const step of steps.slice(printed)) ctx.out(`  ${step.at}  ${step.name} ${step.status}${step.message ? `: ${step.message}` : ''}`);
    }
    printed = steps.length;
    if (DONE.has(operation.status)) return operation;
    if (Date.now() > deadline) throw new Error(`operation ${operationId} did not finish in time`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

function printInstance(ctx: CliContext, instance: InstanceView): void {
  if (ctx.json) return ctx.out(JSON.stringify(instance, null, 2));
  const ip = instance.nics?.[0]?.ipv4Address ?? '';
  ctx.out(`${instance.id}\t${instance.lifecycle.status}\t${ip}\t${instance.type.split('/').pop()}\t${instance.uid}`);
}

async function finish(ctx: CliContext, args: ParsedArguments, operationId: string | null, name: string): Promise<void> {
  if (flag(args, 'wait') && operationId) {
    const operation = await waitForOperation(ctx, operationId);
    if (operation.status === 'FAILED' || operation.status === 'failed') {
      throw new Error(`operation ${operation.id} failed: ${operation.error?.message ?? 'unknown error'}`);
    }
    if (ctx.json) ctx.out(JSON.stringify(operation, null, 2));
  }
  if (!ctx.json || !flag(args, 'wait')) {
    try {
      printInstance(ctx, await ctx.client.request<InstanceView>('GET', `${instancesPath(ctx)}/${name}`));
    } catch {
      ctx.out(`${name}\tDELETED`);
    }
  }
}

export async function instanceCommand(ctx: CliContext, args: ParsedArguments): Promise<void> {
  const [, verb, name] = args.positionals;
  switch (verb) {
    case 'list': {
      const page = await ctx.client.request<{ items: InstanceView[]; nextPageToken?: string }>(
        'GET',
        `${instancesPath(ctx)}?pageSize=${option(args, 'page-size', '100')}${option(args, 'label-selector') ? `&labelSelector=${encodeURIComponent(option(args, 'label-selector')!)}` : ''}`,
      );
      if (ctx.json) return ctx.out(JSON.stringify(page, null, 2));
      ctx.out('NAME\tSTATUS\tIPV4\tTYPE\tUID');
      for (const instance of page.items) printInstance(ctx, instance);
      return;
    }
    case 'get':
      if (!name) throw new Error('usage: kumo instance get NAME');
      return printInstance(ctx, await ctx.client.request<InstanceView>('GET', `${instancesPath(ctx)}/${name}`));
    case 'create': {
      if (!name) throw new Error('usage: kumo instance create NAME --type TYPE --image IMAGE [--ssh-key-file F] [--user-data-file F] [--wait]');
      const type = option(args, 'type', 'g1-small')!;
      const image = option(args, 'image', 'ubuntu-24.04-20260202-3')!;
      const sshKeys = options(args, 'ssh-key-file').map((file) => `root:${readFileSync(file, 'utf8').trim()}`);
      const metadata: Array<{ key: string; value: string }> = [];
      if (sshKeys.length) metadata.push({ key: 'ssh-keys', value: sshKeys.join('\n') });
      const userDataFile = option(args, 'user-data-file');
      if (userDataFile) metadata.push({ key: 'user-data', value: readFileSync(userDataFile, 'utf8') });
      const labels = Object.fromEntries(options(args, 'label').map((pair) => pair.split('=', 2) as [string, string]));
      const body = {
        id: name,
        type: `/v1/regions/${ctx.region}/zones/${ctx.zone}/instance-types/${type}`,
        labels,
        instanceMetadata: metadata,
        disks: [{ boot: true, source: `/v1/regions/${ctx.region}/compute/images/${image}`, sizeGb: Number(option(args, 'disk-gb', '0')) || undefined }],
        ...(option(args, 'network') ? { nics: [{ network: `/v1/regions/${ctx.region}/projects/${ctx.project}/compute/networks/${option(args, 'network')}` }] } : {}),
      };
      const created = await ctx.client.request<InstanceView & { operationId?: string }>('POST', instancesPath(ctx), body);
      if (!flag(args, 'wait')) return printInstance(ctx, created);
      return finish(ctx, args, created.operationId ?? null, name);
    }
    case 'delete':
    case 'start':
    case 'stop':
    case 'reboot': {
      if (!name) throw new Error(`usage: kumo instance ${verb} NAME [--wait]`);
      const operation =
        verb === 'delete'
          ? await ctx.client.request<Operation>('DELETE', `${instancesPath(ctx)}/${name}`)
          : await ctx.client.request<Operation>('POST', `${instancesPath(ctx)}/${name}:${verb}`, verb === 'reboot' ? { hard: flag(args, 'hard') } : {});
      if (!flag(args, 'wait')) return ctx.out(ctx.json ? JSON.stringify(operation, null, 2) : `${operation.id}\t${operation.status}`);
      return finish(ctx, args, operation.id, name);
    }
    default:
      throw new Error('usage: kumo instance create|list|get|delete|start|stop|reboot …');
  }
}

import { readFileSync } from 'node:fs';
import { option, type ParsedArguments } from './arguments.js';
import type { CliContext } from './instance-commands.js';

const USAGE = `usage:
  kumo admin team create NAME
  kumo admin team list
  kumo admin team set-billing TEAM --status active|suspended|past-due|terminated [--balance CENTS]
  kumo admin project create ID --team TEAM [--name NAME]
  kumo admin project list
  kumo admin quota set PROJECT [--instances N] [--vcpus N] [--ram-mb N] [--public-ips N]
  kumo admin key create --role reader|member|admin [--project ID] [--name NAME]
  kumo admin key revoke ID
  kumo admin catalog load FILE.json`;

function print(ctx: CliContext, value: unknown, line: () => string): void {
  ctx.out(ctx.json ? JSON.stringify(value, null, 2) : line());
}

/** Admin commands: they call the native API's admin routes with a global admin key. */
export async function adminCommand(ctx: CliContext, args: ParsedArguments): Promise<void> {
  const [, noun, verb, subject] = args.positionals;
  const number = (key: string) => (option(args, key) !== undefined ? Number(option(args, key)) : undefined);
  switch (`${noun} ${verb}`) {
    case 'team create': {
      if (!subject) throw new Error(USAGE);
      const team = await ctx.client.request<{ id: string; name: string }>('POST', '/v1/admin/teams', { name: subject });
      return print(ctx, team, () => `${team.id}\t${team.name}`);
    }
    case 'team list': {
      const teams = await ctx.client.request<{ items: Array<{ id: string; name: string; billingStatus: string; projects: string[] }> }>('GET', '/v1/admin/teams');
      return print(ctx, teams, () => teams.items.map((t) => `${t.id}\t${t.name}\t${t.billingStatus}\t${t.projects.join(',')}`).join('\n'));
    }
    case 'team set-billing': {
      if (!subject) throw new Error(USAGE);
      const team = await ctx.client.request<{ name: string; billingStatus: string; balanceCents: number }>(
        'PATCH',
        `/v1/admin/teams/${encodeURIComponent(subject)}`,
        { billingStatus: option(args, 'status'), balanceCents: number('balance') },
      );
      return print(ctx, team, () => `${team.name}\t${team.billingStatus}\t${team.balanceCents}`);
    }
    case 'project create': {
      if (!subject || !option(args, 'team')) throw new Error(USAGE);
      const project = await ctx.client.request<{ id: string; uid: string }>('POST', '/v1/admin/projects', {
        id: subject,
        team: option(args, 'team'),
        name: option(args, 'name'),
      });
      return print(ctx, project, () => `${project.id}\t${project.uid}`);
    }
    case 'project list': {
      const projects = await ctx.client.request<{ items: Array<{ id: string; teamId: string }> }>('GET', '/v1/admin/projects');
      return print(ctx, projects, () => projects.items.map((p) => `${p.id}\t${p.teamId}`).join('\n'));
    }
    case 'quota set': {
      if (!subject) throw new Error(USAGE);
      const quota = await ctx.client.request('PATCH', `/v1/admin/projects/${subject}/quota`, {
        instances: number('instances'),
        vcpus: number('vcpus'),
        ramMb: number('ram-mb'),
        publicIps: number('public-ips'),
      });
      return print(ctx, quota, () => JSON.stringify(quota));
    }
    case 'key create': {
      const created = await ctx.client.request<{ id: string; token: string; role: string; projectId: string | null }>('POST', '/v1/admin/api-keys', {
        name: option(args, 'name', 'cli'),
        projectId: option(args, 'project') ?? null,
        role: option(args, 'role', 'member'),
      });
      return print(ctx, created, () => `${created.id}\t${created.role}\t${created.projectId ?? '*'}\n${created.token}`);
    }
    case 'key revoke': {
      if (!subject) throw new Error(USAGE);
      await ctx.client.request('DELETE', `/v1/admin/api-keys/${subject}`);
      return ctx.out(`revoked ${subject}`);
    }
    case 'catalog load': {
      if (!subject) throw new Error(USAGE);
      await ctx.client.request('PUT', '/v1/admin/catalog', JSON.parse(readFileSync(subject, 'utf8')));
      return ctx.out(`loaded ${subject}`);
    }
    default:
      throw new Error(USAGE);
  }
}

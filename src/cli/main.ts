#!/usr/bin/env node
import { adminCommand } from './admin-commands.js';
import { flag, option, parseArguments } from './arguments.js';
import { instanceCommand, type CliContext } from './instance-commands.js';
import { KumoClient } from './kumo-client.js';

const USAGE = `kumo — a compute control plane

  kumo server                       start Kumo (embedded PostgreSQL, simulated hosts; see README for settings)
  kumo instance create NAME [--type T] [--image I] [--ssh-key-file F] [--user-data-file F] [--label k=v] [--wait]
  kumo instance list|get|delete|start|stop|reboot [NAME] [--wait] [--hard]
  kumo admin …                      teams, projects, API keys, billing, quotas, catalog (kumo admin help)
  kumo image build                  build the QEMU guest image from Debian packages

Common options: --url (KUMO_URL, default http://127.0.0.1:8080), --token (KUMO_TOKEN), --region (KUMO_REGION,
default us-texas-1), --project (KUMO_PROJECT, default project-x9y8z7), --zone (KUMO_ZONE, default us1-a),
--output json.`;

async function main(argv: string[]): Promise<number> {
  const args = parseArguments(argv);
  const command = args.positionals[0];
  if (!command || flag(args, 'help') || command === 'help') {
    console.log(USAGE);
    return command ? 0 : 2;
  }
  if (command === 'server') {
    const { runServer } = await import('../server/run-server.js');
    await runServer();
    return 0;
  }
  if (command === 'image') {
    const { buildImageCommand } = await import('../server/image-command.js');
    await buildImageCommand(args.positionals.slice(1));
    return 0;
  }
  const token = option(args, 'token', process.env.KUMO_TOKEN);
  if (!token) throw new Error('no API key: pass --token or set KUMO_TOKEN (the server prints the admin token at first start)');
  const ctx: CliContext = {
    client: new KumoClient(option(args, 'url', process.env.KUMO_URL ?? 'http://127.0.0.1:8080')!, token),
    region: option(args, 'region', process.env.KUMO_REGION ?? 'us-texas-1')!,
    project: option(args, 'project', process.env.KUMO_PROJECT ?? 'project-x9y8z7')!,
    zone: option(args, 'zone', process.env.KUMO_ZONE ?? 'us1-a')!,
    json: option(args, 'output') === 'json' || flag(args, 'json'),
    out: (line) => console.log(line),
  };
  if (command === 'instance') await instanceCommand(ctx, args);
  else if (command === 'admin') await adminCommand(ctx, args);
  else {
    console.error(USAGE);
    return 2;
  }
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(`kumo: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  },
);

import { existsSync } from 'node:fs';
import { loadConfig } from './config.js';
import { IdleHeapTrimmer } from './idle-heap-trimmer.js';
import { startKumo } from './kumo-server.js';

/** `kumo server`: starts Kumo from the environment, prints how to reach it, and stops cleanly on SIGINT/SIGTERM. */
export async function runServer(): Promise<void> {
  const config = loadConfig();
  const kumo = await startKumo(config, { log: (line) => console.log(`kumo: ${line}`) });
  const lines = [
    `Kumo is running at ${kumo.url}`,
    `  native API   ${kumo.url}/v1/regions/us-texas-1/projects/project-x9y8z7/compute/instances`,
    `  OpenAPI      ${kumo.url}/openapi.json`,
    `  health       ${kumo.url}/healthz  ${kumo.url}/readyz  ${kumo.url}/metrics`,
    `  database     ${config.databaseUrl ? 'DATABASE_URL' : `embedded PostgreSQL in ${config.dataDir}/postgres`}`,
    `  hosts        ${kumo.agents.map((agent) => agent.hostId).join(', ')} (${config.driver})`,
  ];
  if (kumo.generatedAdminToken) {
    lines.push(`  admin token  ${kumo.generatedAdminToken}`, `               (shown once; also saved to ${kumo.adminTokenFile})`);
  } else if (config.adminToken) {
    lines.push('  admin token  the value of KUMO_ADMIN_TOKEN');
  } else if (existsSync(kumo.adminTokenFile)) {
    lines.push(`  admin token  in ${kumo.adminTokenFile}`);
  }
  lines.push('', `Try: export KUMO_TOKEN=<admin token>; npx kumo instance create web-1 --wait`);
  console.log(lines.join('\n'));

  // Process-wide, so here rather than in startKumo (tests run several Kumos in one process).
  const heapTrimmer = new IdleHeapTrimmer();
  heapTrimmer.start();

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`kumo: ${signal}, stopping`);
    heapTrimmer.stop();
    kumo.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(`kumo: stop failed: ${(error as Error).message}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import type { GuestSpec } from '../hypervisor-driver.js';
import { runCommand } from './run-command.js';

/** A YAML single-quoted scalar: safe for any string (a quote is doubled), readable by cloud-init and the test guest. */
function yamlString(value: string): string {
  return `'${value.replace(/'/g, "''").replace(/[\r\n]+/g, ' ')}'`;
}

/** NoCloud `meta-data`: instance-id, local-hostname, public-keys, then the spec's metadata extras. */
export function renderMetaData(spec: GuestSpec): string {
  const lines = [`instance-id: ${yamlString(spec.id)}`, `local-hostname: ${yamlString(spec.hostname)}`];
  if (spec.sshPublicKeys.length > 0) {
    lines.push('public-keys:', ...spec.sshPublicKeys.map((key) => `  - ${yamlString(key.trim())}`));
  }
  for (const [key, value] of Object.entries(spec.metadata)) {
    if (/^[A-Za-z0-9_.-]+$/.test(key) && !['instance-id', 'local-hostname', 'public-keys'].includes(key)) {
      lines.push(`${key}: ${yamlString(value)}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/** NoCloud `network-config` (version 2): each NIC matched by MAC, with exactly its static address; the first one's gateway is the default route. */
export function renderNetworkConfig(spec: GuestSpec): string {
  const lines = ['version: 2', 'ethernets:'];
  spec.nics.forEach((nic, index) => {
    lines.push(
      `  nic${index}:`,
      '    match:',
      `      macaddress: ${yamlString(nic.macAddress.toLowerCase())}`,
      `    set-name: ${yamlString(`eth${index}`)}`,
      '    addresses:',
      `      - ${yamlString(`${nic.ipv4Address}/${nic.prefixLength}`)}`,
    );
    if (index === 0 && nic.gatewayIp) lines.push('    routes:', `      - to: ${yamlString('0.0.0.0/0')}`, `        via: ${yamlString(nic.gatewayIp)}`);
  });
  return `${lines.join('\n')}\n`;
}

/**
 * Writes the guest's NoCloud seed as production does: an ISO 9660 image with volume label `cidata` (genisoimage,
 * Joliet + Rock Ridge) holding `meta-data`, `user-data` and `network-config`. Returns the ISO's path.
 */
export async function writeNoCloudSeed(spec: GuestSpec, isoPath: string, workDir: string): Promise<string> {
  const dir = join(workDir, 'seed');
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'meta-data'), renderMetaData(spec));
  await writeFile(join(dir, 'user-data'), spec.userData ?? '');
  await writeFile(join(dir, 'network-config'), renderNetworkConfig(spec));
  await runCommand('genisoimage', [
    '-quiet',
    '-output',
    isoPath,
    '-volid',
    'cidata',
    '-joliet',
    '-rock',
    join(dir, 'meta-data'),
    join(dir, 'user-data'),
    join(dir, 'network-config'),
  ]);
  await rm(dir, { recursive: true, force: true });
  return isoPath;
}

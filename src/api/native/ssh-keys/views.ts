import type { SshKey } from '../../../core/catalog/catalog.js';
import { rfc3339, sshKeyLink } from '../native-uris.js';
import type { SshKeyView } from './schemas.js';

/** SSH keys belong to a project; the region in the link is the one the caller addressed. */
export function sshKeyView(key: SshKey, region: string): SshKeyView {
  return {
    selfLink: sshKeyLink(region, key.projectId, key.id),
    uid: key.uid,
    id: key.id,
    displayName: key.name,
    publicKey: key.publicKey,
    fingerprint: key.fingerprint,
    createdAt: rfc3339(key.createdAt),
  };
}

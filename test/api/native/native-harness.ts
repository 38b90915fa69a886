/**
 * Starts a Kumo for the native API tests: the full server (test/support/test-kumo.ts) on real PostgreSQL, with
 * simulated hosts and the controller.
 */
import type { ApiServerOptions } from '../../../src/api/http/api-server.js';
import { startTestKumo, type TestKumo } from '../../support/test-kumo.js';

export type { TestKumo };

export interface HarnessOptions {
  api?: Pick<ApiServerOptions, 'rateLimit'>;
}

/** The API's rate limit is set as a user would: through the environment. */
export async function startNativeHarness(options: HarnessOptions = {}): Promise<TestKumo> {
  const rateLimit = options.api?.rateLimit;
  return startTestKumo(rateLimit ? { env: { KUMO_RATE_LIMIT: String(rateLimit.ratePerSecond), KUMO_RATE_BURST: String(rateLimit.burst) } } : {});
}

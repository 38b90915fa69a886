import { execFile } from 'node:child_process';

/** The outcome of a finished command: its exit code and captured output. */
export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** A command that exited non-zero; the message carries the command line and its stderr. */
export class CommandError extends Error {
  constructor(
    readonly file: string,
    readonly args: readonly string[],
    readonly result: CommandResult,
  ) {
    super(`${file} ${args.join(' ')} exited ${result.code}: ${result.stderr.trim() || result.stdout.trim()}`);
    this.name = 'CommandError';
  }
}

/**
 * Runs a program with an argument vector (never through a shell, so no argument is ever re-parsed) and resolves with
 * its output. Rejects with {@link CommandError} on a non-zero exit unless `allowFailure` is set.
 */
export function runCommand(
  file: string,
  args: readonly string[],
  options: { allowFailure?: boolean; input?: Buffer | string; timeoutMs?: number } = {},
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      file,
      args as string[],
      { maxBuffer: 64 * 1024 * 1024, timeout: options.timeoutMs ?? 60_000, encoding: 'utf8' },
      (error, stdout, stderr) => {
        const errno = error as (NodeJS.ErrnoException & { code?: unknown }) | null;
        if (errno && typeof errno.code === 'string') {
          reject(new Error(`cannot run ${file}: ${errno.message}`));
          return;
        }
        const code = error ? (typeof errno?.code === 'number' ? errno.code : 1) : 0;
        const result = { code, stdout, stderr };
        if (code !== 0 && !options.allowFailure) reject(new CommandError(file, args, result));
        else resolve(result);
      },
    );
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}

/** Runs a program with a binary stdin and resolves with its binary stdout, whatever its exit code. */
export function runBinaryFilter(file: string, args: readonly string[], input: Buffer): Promise<{ code: number; stdout: Buffer }> {
  return new Promise((resolve, reject) => {
    const child = execFile(file, args as string[], { maxBuffer: 512 * 1024 * 1024, encoding: 'buffer' }, (error, stdout) => {
      const errno = error as (NodeJS.ErrnoException & { code?: unknown }) | null;
      if (errno && typeof errno.code === 'string') {
        reject(new Error(`cannot run ${file}: ${errno.message}`));
        return;
      }
      resolve({ code: error ? (typeof errno?.code === 'number' ? errno.code : 1) : 0, stdout });
    });
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(input);
  });
}

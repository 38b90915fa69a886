import { open, stat } from 'node:fs/promises';

/** Size of the serial log in bytes (0 when it does not exist yet). */
export async function serialLogSize(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

/** Reads the serial log from `offset` to its end (at most `maxBytes`, the last ones); '' when missing. */
export async function readSerialLog(path: string, offset = 0, maxBytes = 4 * 1024 * 1024): Promise<string> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch {
    return '';
  }
  try {
    const size = (await handle.stat()).size;
    const start = Math.max(offset, size - maxBytes);
    if (start >= size) return '';
    const buffer = Buffer.alloc(size - start);
    await handle.read(buffer, 0, buffer.length, start);
    return buffer.toString('utf8');
  } finally {
    await handle.close();
  }
}

/** The last `maxLines` lines of the serial log, without carriage returns. */
export async function serialTail(path: string, maxLines: number): Promise<string> {
  const text = (await readSerialLog(path, 0, 256 * 1024)).replace(/\r/g, '');
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  return lines.slice(-Math.max(0, maxLines)).join('\n');
}

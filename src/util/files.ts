import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { FormatError, NotFoundError } from '../errors/index.js';
import { limit, overLimit, type LimitKey } from '../limits.js';

/**
 * Read a file a user named (a facts file) whole, within the size limit `key`: only a regular file
 * (a FIFO or `/dev/zero` would block or never end), opened non-blocking. NotFoundError when it is
 * missing; FormatError naming it otherwise (past the limit: which limit, and how to raise it).
 */
export async function readRegularFile(path: string, key: LimitKey, what: string): Promise<Buffer> {
  let fh;
  try {
    fh = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new NotFoundError(`${what}: no such file`, path);
    throw new FormatError(`${what}: cannot open (${code ?? (e as Error).message})`, path, { cause: e });
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new FormatError(`${what}: not a regular file`, path);
    if (st.size > limit(key)) throw new FormatError(`${what}: ${overLimit(key, `${st.size} bytes`)}`, path);
    const buf = Buffer.alloc(st.size);
    let at = 0;
    while (at < st.size) {
      const { bytesRead } = await fh.read(buf, at, st.size - at, at);
      if (bytesRead === 0) break;
      at += bytesRead;
    }
    return at === st.size ? buf : buf.subarray(0, at);
  } finally {
    await fh.close();
  }
}

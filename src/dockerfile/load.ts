/**
 * Read and parse the Dockerfiles that path arguments name (scan.ts finds them, parse.ts parses
 * them): each read whole within the size limit, decoded as UTF-8 (bytes that are not UTF-8 are an
 * error naming the file, never replaced silently), and kept with the exact text that was read, so a
 * later write can tell whether the file changed meanwhile.
 */
import { DockerfileError } from '../errors/index.js';
import { readRegularFile } from '../util/files.js';
import { parseDockerfile, type ParsedDockerfile, type ParseOptions } from './parse.js';
import { findDockerfiles } from './scan.js';

/** Read and parse one Dockerfile. */
export async function loadDockerfile(file: string, opts: ParseOptions = {}): Promise<ParsedDockerfile> {
  // A Dockerfile is bounded like a JSON document (CONTAINERSPEC_MAX_JSON_BYTES, 8 MiB by default).
  const bytes = await readRegularFile(file, 'jsonBytes', file);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch (e) {
    throw new DockerfileError(`${file}: not UTF-8 text (not a Dockerfile)`, file, null, { cause: e });
  }
  return parseDockerfile(text, file, opts);
}

/** Files read at once: each read is a few thread-pool round trips, which a sequential loop would wait out one by one. */
const READ_AT_ONCE = 16;

/**
 * Every Dockerfile the paths name, parsed, in order. Files are read and parsed up to
 * {@link READ_AT_ONCE} at a time; the error reported is the first one in file order, whatever
 * finished first.
 */
export async function loadDockerfiles(paths: readonly string[], opts: ParseOptions = {}): Promise<ParsedDockerfile[]> {
  const files = await findDockerfiles(paths);
  const results: PromiseSettledResult<ParsedDockerfile>[] = new Array(files.length);
  let next = 0;
  const worker = async () => {
    while (next < files.length) {
      const i = next++;
      results[i] = await loadDockerfile(files[i]!, opts).then(
        (value) => ({ status: 'fulfilled', value }) as const,
        (reason: unknown) => ({ status: 'rejected', reason }) as const,
      );
    }
  };
  await Promise.all(Array.from({ length: Math.min(READ_AT_ONCE, files.length) }, worker));
  return results.map((r) => {
    if (r.status === 'rejected') throw r.reason;
    return r.value;
  });
}

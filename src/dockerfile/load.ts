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

/** Every Dockerfile the paths name, parsed, in order. */
export async function loadDockerfiles(paths: readonly string[], opts: ParseOptions = {}): Promise<ParsedDockerfile[]> {
  const files = await findDockerfiles(paths);
  const out: ParsedDockerfile[] = [];
  for (const f of files) out.push(await loadDockerfile(f, opts));
  return out;
}

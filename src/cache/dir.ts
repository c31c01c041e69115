/** Where the cache lives when the user does not say. */
import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';

/**
 * The default cache directory: `$CONTAINERSPEC_CACHE_DIR`, else `$XDG_CACHE_HOME/containerspec`
 * (the XDG base directory spec: a relative XDG_CACHE_HOME is ignored), else
 * `~/.cache/containerspec`.
 */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const own = env.CONTAINERSPEC_CACHE_DIR;
  if (own !== undefined && own !== '') return own;
  const xdg = env.XDG_CACHE_HOME;
  if (xdg !== undefined && xdg !== '' && isAbsolute(xdg)) return join(xdg, 'containerspec');
  return join(env.HOME !== undefined && env.HOME !== '' ? env.HOME : homedir(), '.cache', 'containerspec');
}

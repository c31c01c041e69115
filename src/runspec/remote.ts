/**
 * Git remotes the user names for `runspec clone|push|pull`. A remote is used, never stored, logged or
 * printed as given: a URL that carries a password or token is refused (a credential in a URL also
 * shows in `ps` and shell history; git's credential helpers and SSH keys are the way), and any URL
 * in a message is shown without its user part.
 */
import { UsageError } from '../errors/index.js';

/** `scheme://user[:secret]@host/...` with the user part hidden, for messages. */
export function redactUrl(s: string): string {
  return s.replace(/([a-z][a-z0-9+.-]*:\/\/)[^/@\s]*@/gi, '$1***@');
}

/** Refuse a remote whose URL carries a credential; returns it unchanged otherwise. */
export function checkRemote(url: string, flag = '--remote'): string {
  const u = url.trim();
  if (!u) throw new UsageError(`${flag} names no remote`);
  const m = /^[a-z][a-z0-9+.-]*:\/\/([^/@\s]*)@/i.exec(u);
  if (m && m[1]!.includes(':')) {
    throw new UsageError(`${flag} ${redactUrl(u)}: the URL holds a password or token, which would show in process lists and logs; use a git credential helper or an SSH key (nothing was stored)`);
  }
  return u;
}

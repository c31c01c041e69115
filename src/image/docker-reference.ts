/**
 * Registry image references (`[host[:port]/]path[:tag][@digest]`), parsed and normalised the way
 * docker does it: the grammar of github.com/distribution/reference (regexp.go, reference.go), the
 * normalisation of its `ParseNormalizedNamed` + `TagNameOnly` (normalize.go, helpers.go), and digest
 * validation as github.com/opencontainers/go-digest v1.0.0 (the version distribution/reference pins).
 *
 * Pure string work: no file-system or network access.
 */
import { ImageReferenceError } from '../errors/index.js';

/** A parsed, normalised registry reference. */
export interface DockerReference {
  /** Registry host with optional port, normalised: 'docker.io', 'ghcr.io', 'localhost:5000', '127.0.0.1:5000', '[::1]:5000'. */
  readonly domain: string;
  /** Repository path inside the registry: 'library/ubuntu', 'lab/lammps'. */
  readonly path: string;
  /** `${domain}/${path}` */
  readonly name: string;
  /** Tag, or null when none was given and a digest was; 'latest' when neither was given (TagNameOnly behaviour). */
  readonly tag: string | null;
  /** True when the tag is the defaulted 'latest' (not written by the user). */
  readonly tagDefaulted: boolean;
  /** 'sha256:<64 hex>' / 'sha512:<128 hex>' when given, else null. */
  readonly digest: string | null;
  /** The canonical string: name[:tag][@digest], e.g. 'docker.io/library/ubuntu:latest'. */
  readonly canonical: string;
  /** The familiar (short) form docker prints: 'ubuntu:latest', 'lab/lammps:2024', 'ghcr.io/x/y@sha256:...'. */
  readonly familiar: string;
}

/**
 * Longest repository name accepted, as in distribution: 255. As in the current
 * distribution/reference (`RepositoryNameTotalLengthMax`, checked in `Parse`), the limit applies
 * to the repository path after normalisation (so 'library/' counts for Docker Hub official
 * images), not to the registry host.
 */
export const NAME_TOTAL_LENGTH_MAX = 255;

const TAG_LENGTH_MAX = 128;
const DEFAULT_DOMAIN = 'docker.io';
const LEGACY_DEFAULT_DOMAIN = 'index.docker.io';
const OFFICIAL_REPO_PREFIX = 'library/';
const DEFAULT_TAG = 'latest';
const LOCALHOST = 'localhost';

// The grammar, piece by piece (regexp.go). JavaScript regexps pick the same (leftmost-first)
// sub-matches as Go's RE2 for these patterns; `\w` is ASCII-only in both without the `u` flag.
const ALPHANUMERIC = '[a-z0-9]+';
const SEPARATOR = '(?:[._]|__|-+)';
const PATH_COMPONENT = `${ALPHANUMERIC}(?:${SEPARATOR}${ALPHANUMERIC})*`;
const REMOTE_NAME = `${PATH_COMPONENT}(?:/${PATH_COMPONENT})*`;
const DOMAIN_NAME_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN_NAME = `${DOMAIN_NAME_COMPONENT}(?:\\.${DOMAIN_NAME_COMPONENT})*`;
const IPV6_ADDRESS = '\\[(?:[a-fA-F0-9:]+)\\]';
const DOMAIN_AND_PORT = `(?:${DOMAIN_NAME}|${IPV6_ADDRESS})(?::[0-9]+)?`;
const TAG = '[\\w][\\w.-]{0,127}';
const DIGEST_ALGORITHM = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*';
const DIGEST = `${DIGEST_ALGORITHM}:[0-9a-fA-F]{32,}`;

/** name [":" tag] ["@" digest], capturing the three parts. */
const REFERENCE_RE = new RegExp(`^((?:${DOMAIN_AND_PORT}/)?${REMOTE_NAME})(?::(${TAG}))?(?:@(${DIGEST}))?$`);
/** A name, capturing the optional domain and the path. */
const NAME_RE = new RegExp(`^(?:(${DOMAIN_AND_PORT})/)?(${REMOTE_NAME})$`);
const DOMAIN_AND_PORT_RE = new RegExp(`^${DOMAIN_AND_PORT}$`);
const DIGEST_ALGORITHM_RE = new RegExp(`^${DIGEST_ALGORITHM}$`);
const DIGEST_RE = new RegExp(`^${DIGEST}$`);
/** A bare image ID (identifier in reference.go). */
const IDENTIFIER_RE = /^[a-f0-9]{64}$/;

/** go-digest's own, more relaxed, digest grammar (digest.go DigestRegexpAnchored). */
const GO_DIGEST_RE = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;
/** Algorithms go-digest v1.0.0 registers, with the length of their hex encoding. */
const DIGEST_HEX_LENGTH: ReadonlyMap<string, number> = new Map([
  ['sha256', 64],
  ['sha384', 96],
  ['sha512', 128],
]);

type Outcome = { ok: true; ref: DockerReference } | { ok: false; message: string };

/**
 * Parse a registry reference such as `ubuntu`, `ghcr.io/lab/lammps:2024` or
 * `127.0.0.1:5000/lab/app@sha256:<hex>` and normalise it as docker does
 * (`docker.io/library/ubuntu:latest`). Throws `ImageReferenceError` with a one-line message
 * naming the input and what is wrong with it.
 */
export function parseDockerReference(input: string): DockerReference {
  const r = analyse(input);
  if (!r.ok) throw new ImageReferenceError(r.message);
  return r.ref;
}

/** True when `parseDockerReference(input)` would succeed. Never throws. */
export function isDockerReference(input: string): boolean {
  return analyse(input).ok;
}

/** JSON-quote a string and escape the line separators JSON leaves alone, so messages stay on one line. */
function quote(s: string): string {
  return JSON.stringify(s).replace(/[\u0085\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function failure(input: string, what: string, hint?: string | null): Outcome {
  return { ok: false, message: `image reference ${quote(input)}: ${what}${hint ? ` (${hint})` : ''}` };
}

/**
 * splitDockerDomain (normalize.go): choose the registry host and the rest; `prefixed` tells
 * whether 'library/' was added.
 */
function splitDockerDomain(name: string): { domain: string; remainder: string; prefixed: boolean } {
  const slash = name.indexOf('/');
  if (slash < 0) return { domain: DEFAULT_DOMAIN, remainder: OFFICIAL_REPO_PREFIX + name, prefixed: true };
  const first = name.slice(0, slash);
  const rest = name.slice(slash + 1);
  let domain: string;
  let remainder: string;
  if (first === LOCALHOST) {
    [domain, remainder] = [first, rest];
  } else if (first === LEGACY_DEFAULT_DOMAIN) {
    [domain, remainder] = [DEFAULT_DOMAIN, rest];
  } else if (first.includes('.') || first.includes(':') || first.toLowerCase() !== first) {
    // Looks like a host name, an address or a port; upper case is not allowed in a path, so an
    // upper-case first component is taken for a host too.
    [domain, remainder] = [first, rest];
  } else {
    [domain, remainder] = [DEFAULT_DOMAIN, name];
  }
  const prefixed = domain === DEFAULT_DOMAIN && !remainder.includes('/');
  if (prefixed) remainder = OFFICIAL_REPO_PREFIX + remainder;
  return { domain, remainder, prefixed };
}

/** go-digest v1.0.0 `Digest.Validate`, returning the problem (message, hint) or null. */
function digestProblem(digest: string): [string, string | null] | null {
  const colon = digest.indexOf(':');
  if (colon <= 0 || colon === digest.length - 1) return ['invalid checksum digest format', 'a digest is <algorithm>:<hex>'];
  const algorithm = digest.slice(0, colon);
  const encoded = digest.slice(colon + 1);
  const length = DIGEST_HEX_LENGTH.get(algorithm);
  if (length === undefined) {
    if (!GO_DIGEST_RE.test(digest)) {
      return ['invalid checksum digest format', `the digest algorithm ${quote(algorithm)} must be lower case`];
    }
    return ['unsupported digest algorithm', `${quote(algorithm)}; supported: ${[...DIGEST_HEX_LENGTH.keys()].join(', ')}`];
  }
  if (encoded.length !== length) {
    return ['invalid checksum digest length', `${algorithm} needs ${length} hex digits, got ${encoded.length}`];
  }
  if (!/^[a-f0-9]+$/.test(encoded)) return ['invalid checksum digest format', 'hex digits must be lower case'];
  return null;
}

function analyse(input: string): Outcome {
  if (typeof input !== 'string') return { ok: false, message: `image reference ${String(input)}: not a string` };
  if (input === '') return failure(input, 'empty image reference');
  // ParseNormalizedNamed, step by step.
  if (IDENTIFIER_RE.test(input)) {
    return failure(
      input,
      'invalid repository name, cannot specify 64-byte hexadecimal strings',
      'that is an image ID; name a repository, e.g. name@sha256:<hex>',
    );
  }
  const { domain, remainder, prefixed } = splitDockerDomain(input);
  const tagColon = remainder.indexOf(':');
  const remote = tagColon < 0 ? remainder : remainder.slice(0, tagColon);
  if (remote.toLowerCase() !== remote) {
    const at = remote.indexOf('@');
    if (at >= 0 && remote.slice(0, at).toLowerCase() === remote.slice(0, at)) {
      // Go reports "must be lowercase" here too, but the upper case is in the digest.
      const digest = remainder.slice(at + 1);
      const problem = DIGEST_RE.test(digest) ? digestProblem(digest) : null;
      if (problem) return failure(input, problem[0], problem[1]);
      return failure(input, 'invalid reference format', diagnose(input));
    }
    return failure(input, 'repository name must be lowercase', `repository path ${quote(remote)}`);
  }

  // Parse (reference.go) of the normalised string.
  const full = `${domain}/${remainder}`;
  const m = REFERENCE_RE.exec(full);
  if (!m) {
    const lower = full.toLowerCase();
    if (lower !== full && REFERENCE_RE.test(lower)) {
      return failure(
        input,
        'repository name must be lowercase',
        `${quote(domain)} is not a valid registry host, so it would be part of the repository path`,
      );
    }
    return failure(input, 'invalid reference format', diagnose(input));
  }
  const nameMatch = NAME_RE.exec(m[1] ?? '');
  const foundDomain = nameMatch?.[1];
  const path = nameMatch?.[2];
  if (foundDomain !== domain || path === undefined) {
    // Go accepts this as a name without any domain ('foo_bar.com/x'); a registry needs one.
    return failure(input, 'invalid reference format', hostProblem(domain) ?? `${quote(domain)} is not a valid registry host`);
  }
  if (path.length > NAME_TOTAL_LENGTH_MAX) {
    const implied = prefixed ? ` including the ${quote(OFFICIAL_REPO_PREFIX)} Docker Hub adds` : '';
    return failure(
      input,
      `repository name must not be more than ${NAME_TOTAL_LENGTH_MAX} characters`,
      `the repository path is ${path.length} characters${implied}`,
    );
  }
  const givenTag = m[2] ?? null;
  const digest = m[3] ?? null;
  if (digest !== null) {
    const problem = digestProblem(digest);
    if (problem) return failure(input, problem[0], problem[1]);
  }

  // TagNameOnly: a bare name gets 'latest'.
  const tagDefaulted = givenTag === null && digest === null;
  const tag = tagDefaulted ? DEFAULT_TAG : givenTag;
  const suffix = `${tag === null ? '' : `:${tag}`}${digest === null ? '' : `@${digest}`}`;
  const name = `${domain}/${path}`;
  return {
    ok: true,
    ref: {
      domain,
      path,
      name,
      tag,
      tagDefaulted,
      digest,
      canonical: name + suffix,
      familiar: familiarName(domain, path) + suffix,
    },
  };
}

/** familiarizeName (normalize.go): drop 'docker.io/' and, for one-level names, 'library/'. */
function familiarName(domain: string, path: string): string {
  if (domain !== DEFAULT_DOMAIN) return `${domain}/${path}`;
  if (path.startsWith(OFFICIAL_REPO_PREFIX)) {
    const rest = path.slice(OFFICIAL_REPO_PREFIX.length);
    if (!rest.includes('/')) return rest;
  }
  return path;
}

// ---------------------------------------------------------------------------------------------
// Hints. Only used once the grammar has refused the input: find the first part that is wrong
// and say so, with 1-based character positions in the input as given.

function describeChar(input: string, index: number): string {
  const c = input.codePointAt(index) ?? 0;
  const shown = c <= 0x20 || c === 0x7f ? `U+${c.toString(16).toUpperCase().padStart(4, '0')}` : quote(String.fromCodePoint(c));
  return `character ${index + 1} (${shown})`;
}

/** Why `input` is not a reference, or null when no single part can be blamed. */
function diagnose(input: string): string | null {
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\//.exec(input);
  if (scheme) return `a registry reference has no URL scheme; drop ${quote(`${scheme[1] ?? ''}://`)}`;
  if (/^(?:\.{1,2}|~)(?:\/|$)/.test(input) || input.startsWith('/')) {
    return 'this looks like a local path, not a registry reference; for local images use oci:PATH, oci-archive:FILE, docker-archive:FILE or dir:PATH';
  }
  let offset = 0;
  let rest = input;
  const slash = input.indexOf('/');
  if (slash >= 0) {
    const first = input.slice(0, slash);
    if (first === LOCALHOST || first.includes('.') || first.includes(':') || first.toLowerCase() !== first) {
      const problem = hostProblem(first);
      if (problem) return problem;
      offset = slash + 1;
      rest = input.slice(offset);
    }
  } else if (input.startsWith('[')) {
    return 'a registry host must be followed by "/" and a repository path';
  }
  const at = rest.indexOf('@');
  const namePart = at < 0 ? rest : rest.slice(0, at);
  const colon = namePart.indexOf(':', namePart.lastIndexOf('/') + 1);
  const repo = colon < 0 ? namePart : namePart.slice(0, colon);
  const problem =
    pathProblem(input, repo, offset) ??
    (colon < 0 ? null : tagProblem(input, namePart.slice(colon + 1), offset + colon + 1)) ??
    (at < 0 ? null : digestSyntaxProblem(input, rest.slice(at + 1), offset + at + 1));
  return problem;
}

/**
 * What is wrong with a registry host (domain-name or [IPv6], optional :port), or null. The host
 * is always the start of the input, so its positions are the input's.
 */
function hostProblem(host: string): string | null {
  if (DOMAIN_AND_PORT_RE.test(host)) return null;
  let name = host;
  let port: string | null = null;
  let portOffset = 0;
  if (host.startsWith('[')) {
    const close = host.indexOf(']');
    if (close < 0) return `unclosed "[" in registry host ${quote(host)}`;
    for (let i = 1; i < close; i++) {
      if (!/[a-fA-F0-9:]/.test(host[i] ?? '')) {
        return `${describeChar(host, i)} is not allowed in an IPv6 registry host; zone identifiers and embedded IPv4 forms are not accepted`;
      }
    }
    if (close === 1) return 'empty IPv6 registry host "[]"';
    name = host.slice(0, close + 1);
    if (close + 1 < host.length) {
      if (host[close + 1] !== ':') return `registry host ${quote(host)}: expected ":port" after "]"`;
      port = host.slice(close + 2);
      portOffset = close + 2;
    }
  } else {
    const c = host.indexOf(':');
    if (c >= 0) {
      name = host.slice(0, c);
      port = host.slice(c + 1);
      portOffset = c + 1;
    }
    const bad = /[^a-zA-Z0-9.-]/.exec(name);
    if (bad) return `${describeChar(host, bad.index)} is not allowed in registry host ${quote(host)}`;
    if (name === '') return `registry host ${quote(host)} has no host name before ":"`;
    for (const part of name.split('.')) {
      if (part === '') return `registry host ${quote(host)} has an empty component: ".." or a leading or trailing "."`;
      if (part.startsWith('-') || part.endsWith('-')) return `registry host component ${quote(part)} must not start or end with "-"`;
    }
  }
  if (port !== null && !/^[0-9]+$/.test(port)) {
    const ipv6Hint = host.startsWith('[') ? '' : '; an IPv6 address must be written in brackets, e.g. [::1]:5000';
    return `registry host ${quote(host)}: the port must be a number, got ${quote(port)} at character ${portOffset + 1}${ipv6Hint}`;
  }
  return null;
}

/** What is wrong with a repository path (components joined by "/"), or null. */
function pathProblem(input: string, path: string, offset: number): string | null {
  if (path === '') return 'the repository name is missing';
  let pos = offset;
  for (const component of path.split('/')) {
    if (component === '') {
      return pos === input.length ? 'the name must not end with "/"' : `empty path component: "//" at character ${pos}`;
    }
    const bad = /[^a-z0-9._-]/.exec(component);
    if (bad) {
      const upper = /[A-Z]/.test(bad[0]) ? '; repository names must be lower case' : '';
      return `${describeChar(input, pos + bad.index)} is not allowed in a repository name${upper}`;
    }
    if (!/^[a-z0-9]/.test(component) || !/[a-z0-9]$/.test(component)) {
      return `path component ${quote(component)} must start and end with a lower-case letter or digit`;
    }
    const seps = /[._-]+/g;
    for (let s = seps.exec(component); s; s = seps.exec(component)) {
      if (!/^(?:[._]|__|-+)$/.test(s[0])) {
        return `separator ${quote(s[0])} at character ${pos + s.index + 1} is not allowed; use one ".", one or two "_", or dashes`;
      }
    }
    pos += component.length + 1;
  }
  return null;
}

/** What is wrong with a tag, or null. */
function tagProblem(input: string, tag: string, offset: number): string | null {
  if (tag === '') return 'the tag after ":" is empty';
  if (!/^\w/.test(tag)) return `the tag must start with a letter, digit or "_", not ${describeChar(input, offset)}`;
  const bad = /[^\w.-]/.exec(tag);
  if (bad) return `${describeChar(input, offset + bad.index)} is not allowed in a tag`;
  if (tag.length > TAG_LENGTH_MAX) return `the tag is ${tag.length} characters, at most ${TAG_LENGTH_MAX} are allowed`;
  return null;
}

/** What is wrong with the digest's syntax (the grammar's part, before go-digest), or null. */
function digestSyntaxProblem(input: string, digest: string, offset: number): string | null {
  if (digest === '') return 'the digest after "@" is empty';
  const colon = digest.indexOf(':');
  if (colon < 0) return 'a digest is <algorithm>:<hex>, e.g. sha256:<64 hex digits>';
  const algorithm = digest.slice(0, colon);
  if (!DIGEST_ALGORITHM_RE.test(algorithm)) return `${quote(algorithm)} is not a valid digest algorithm name`;
  const hex = digest.slice(colon + 1);
  const bad = /[^0-9a-fA-F]/.exec(hex);
  if (bad) return `${describeChar(input, offset + colon + 1 + bad.index)} is not a hex digit in the digest`;
  if (hex.length < 32) {
    const wanted = DIGEST_HEX_LENGTH.get(algorithm.toLowerCase());
    return `the digest has ${hex.length} hex digits; ${wanted ? `${algorithm} needs ${wanted}` : 'at least 32 are needed'}`;
  }
  return null;
}

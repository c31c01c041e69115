import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ImageReferenceError } from '../src/errors/index.js';
import { NAME_TOTAL_LENGTH_MAX, isDockerReference, parseDockerReference } from '../src/image/docker-reference.js';

// Cases come from github.com/distribution/reference (reference_test.go, normalize_test.go),
// re-expressed for the normalised (ParseNormalizedNamed + TagNameOnly) result.

const F64 = 'f'.repeat(64);
const D = `sha256:${F64}`;
const HEX64 = '1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a';

/** The message parseDockerReference throws for `input`, checking it is a one-line ImageReferenceError. */
function errorOf(input: string): string {
  try {
    parseDockerReference(input);
  } catch (e) {
    expect(e).toBeInstanceOf(ImageReferenceError);
    const message = (e as Error).message;
    expect(message).not.toMatch(/[\r\n\u0085\u2028\u2029]/);
    return message;
  }
  throw new Error(`expected ${JSON.stringify(input)} to be refused`);
}

/** [input, domain, path, tag, digest]; tag 'latest' with digest null means the defaulted tag. */
type Row = [input: string, domain: string, path: string, tag: string | null, digest: string | null];

const fromReferenceTest: Row[] = [
  ['test_com', 'docker.io', 'library/test_com', 'latest', null],
  ['test.com:tag', 'docker.io', 'library/test.com', 'tag', null],
  ['test.com:5000', 'docker.io', 'library/test.com', '5000', null],
  ['test.com/repo:tag', 'test.com', 'repo', 'tag', null],
  ['test:5000/repo', 'test:5000', 'repo', 'latest', null],
  ['test:5000/repo:tag', 'test:5000', 'repo', 'tag', null],
  [`test:5000/repo@${D}`, 'test:5000', 'repo', null, D],
  [`test:5000/repo:tag@${D}`, 'test:5000', 'repo', 'tag', D],
  ['lowercase:Uppercase', 'docker.io', 'library/lowercase', 'Uppercase', null],
  [`${'a/'.repeat(127)}a:tag-puts-this-over-max`, 'docker.io', `${'a/'.repeat(127)}a`, 'tag-puts-this-over-max', null],
  ['sub-dom1.foo.com/bar/baz/quux', 'sub-dom1.foo.com', 'bar/baz/quux', 'latest', null],
  ['sub-dom1.foo.com/bar/baz/quux:some-long-tag', 'sub-dom1.foo.com', 'bar/baz/quux', 'some-long-tag', null],
  ['b.gcr.io/test.example.com/my-app:test.example.com', 'b.gcr.io', 'test.example.com/my-app', 'test.example.com', null],
  ['xn--n3h.com/myimage:xn--n3h.com', 'xn--n3h.com', 'myimage', 'xn--n3h.com', null],
  [`xn--7o8h.com/myimage:xn--7o8h.com@${D}`, 'xn--7o8h.com', 'myimage', 'xn--7o8h.com', D],
  ['foo_bar.com:8080', 'docker.io', 'library/foo_bar.com', '8080', null],
  ['foo/foo_bar.com:8080', 'docker.io', 'foo/foo_bar.com', '8080', null],
  ['192.168.1.1', 'docker.io', 'library/192.168.1.1', 'latest', null],
  ['192.168.1.1:tag', 'docker.io', 'library/192.168.1.1', 'tag', null],
  ['192.168.1.1:5000', 'docker.io', 'library/192.168.1.1', '5000', null],
  ['192.168.1.1/repo', '192.168.1.1', 'repo', 'latest', null],
  ['192.168.1.1:5000/repo', '192.168.1.1:5000', 'repo', 'latest', null],
  ['192.168.1.1:5000/repo:5050', '192.168.1.1:5000', 'repo', '5050', null],
  ['[2001:db8::1]/repo', '[2001:db8::1]', 'repo', 'latest', null],
  ['[2001:db8:1:2:3:4:5:6]/repo:tag', '[2001:db8:1:2:3:4:5:6]', 'repo', 'tag', null],
  ['[2001:db8::1]:5000/repo', '[2001:db8::1]:5000', 'repo', 'latest', null],
  ['[2001:db8::1]:5000/repo:tag', '[2001:db8::1]:5000', 'repo', 'tag', null],
  [`[2001:db8::1]:5000/repo@${D}`, '[2001:db8::1]:5000', 'repo', null, D],
  [`[2001:db8::1]:5000/repo:tag@${D}`, '[2001:db8::1]:5000', 'repo', 'tag', D],
  ['[2001:db8::]:5000/repo', '[2001:db8::]:5000', 'repo', 'latest', null],
  ['[::1]:5000/repo', '[::1]:5000', 'repo', 'latest', null],
  [`example.com/${'a'.repeat(255)}:tag`, 'example.com', 'a'.repeat(255), 'tag', null],
  // TestSerialization, TestDomainAndPath, TestParseNamed
  ['example.com:8000/named', 'example.com:8000', 'named', 'latest', null],
  ['example.com:8000/named:tagged', 'example.com:8000', 'named', 'tagged', null],
  [
    'other.com/named@sha256:1234567890098765432112345667890098765432112345667890098765432112',
    'other.com',
    'named',
    null,
    'sha256:1234567890098765432112345667890098765432112345667890098765432112',
  ],
  ['test_com/foo', 'docker.io', 'test_com/foo', 'latest', null],
  ['test:8080/foo', 'test:8080', 'foo', 'latest', null],
  ['test-com:8080/foo', 'test-com:8080', 'foo', 'latest', null],
  ['test.com', 'docker.io', 'library/test.com', 'latest', null],
];

const fromNormalizeTest: Row[] = [
  // TestValidateReferenceName (valid)
  ['docker/docker', 'docker.io', 'docker/docker', 'latest', null],
  ['library/debian', 'docker.io', 'library/debian', 'latest', null],
  ['debian', 'docker.io', 'library/debian', 'latest', null],
  ['localhost/library/debian', 'localhost', 'library/debian', 'latest', null],
  ['localhost/debian', 'localhost', 'debian', 'latest', null],
  ['LOCALDOMAIN/library/debian', 'LOCALDOMAIN', 'library/debian', 'latest', null],
  ['LOCALDOMAIN/debian', 'LOCALDOMAIN', 'debian', 'latest', null],
  ['docker.io/docker/docker', 'docker.io', 'docker/docker', 'latest', null],
  ['docker.io/library/debian', 'docker.io', 'library/debian', 'latest', null],
  ['docker.io/debian', 'docker.io', 'library/debian', 'latest', null],
  ['index.docker.io/docker/docker', 'docker.io', 'docker/docker', 'latest', null],
  ['index.docker.io/library/debian', 'docker.io', 'library/debian', 'latest', null],
  ['index.docker.io/debian', 'docker.io', 'library/debian', 'latest', null],
  ['127.0.0.1:5000/docker/docker', '127.0.0.1:5000', 'docker/docker', 'latest', null],
  ['127.0.0.1:5000/library/debian', '127.0.0.1:5000', 'library/debian', 'latest', null],
  ['127.0.0.1:5000/debian', '127.0.0.1:5000', 'debian', 'latest', null],
  ['192.168.0.1', 'docker.io', 'library/192.168.0.1', 'latest', null],
  ['192.168.0.1:80', 'docker.io', 'library/192.168.0.1', '80', null],
  ['192.168.0.1:8/debian', '192.168.0.1:8', 'debian', 'latest', null],
  ['192.168.0.2:25000/debian', '192.168.0.2:25000', 'debian', 'latest', null],
  [
    'thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev',
    'docker.io',
    'library/thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev',
    'latest',
    null,
  ],
  ['[fc00::1]:5000/docker', '[fc00::1]:5000', 'docker', 'latest', null],
  ['[fc00::1]:5000/docker/docker', '[fc00::1]:5000', 'docker/docker', 'latest', null],
  ['[fc00:1:2:3:4:5:6:7]:5000/library/debian', '[fc00:1:2:3:4:5:6:7]:5000', 'library/debian', 'latest', null],
  [`docker.io/${HEX64}`, 'docker.io', `library/${HEX64}`, 'latest', null],
  ['Docker/docker', 'Docker', 'docker', 'latest', null],
  ['DOCKER/docker', 'DOCKER', 'docker', 'latest', null],
  // TestValidateRemoteName (valid)
  ['docker-rules/docker', 'docker.io', 'docker-rules/docker', 'latest', null],
  ['docker---rules/docker', 'docker.io', 'docker---rules/docker', 'latest', null],
  ['doc/docker', 'docker.io', 'doc/docker', 'latest', null],
  ['d/docker', 'docker.io', 'd/docker', 'latest', null],
  ['jess/t', 'docker.io', 'jess/t', 'latest', null],
  ['dock__er/docker', 'docker.io', 'dock__er/docker', 'latest', null],
  // TestNormalizedSplitHostname
  ['test.com/foo', 'test.com', 'foo', 'latest', null],
  ['docker/migrator', 'docker.io', 'docker/migrator', 'latest', null],
  ['test.com:8080/foo', 'test.com:8080', 'foo', 'latest', null],
  ['foo', 'docker.io', 'library/foo', 'latest', null],
  ['xn--n3h.com/foo', 'xn--n3h.com', 'foo', 'latest', null],
  ['xn--n3h.com:18080/foo', 'xn--n3h.com:18080', 'foo', 'latest', null],
  ['docker.io/foo', 'docker.io', 'library/foo', 'latest', null],
  ['docker.io/library/foo/bar', 'docker.io', 'library/foo/bar', 'latest', null],
  // TestParseAnyReference (the named cases)
  ['redis:latest', 'docker.io', 'library/redis', 'latest', null],
  [
    'dmcgowan/myapp@sha256:dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9c',
    'docker.io',
    'dmcgowan/myapp',
    null,
    'sha256:dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9c',
  ],
  ['docker.io/mcgowan/myapp:latest', 'docker.io', 'mcgowan/myapp', 'latest', null],
  [
    'dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9',
    'docker.io',
    'library/dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9',
    'latest',
    null,
  ],
  ['dbcc1', 'docker.io', 'library/dbcc1', 'latest', null],
  // ParseNormalizedNamed (unlike ParseAnyReference) reads a bare digest as repository "sha256" and a tag.
  [`sha256:${F64}`, 'docker.io', 'library/sha256', F64, null],
];

const issueExamples: Row[] = [
  ['ubuntu', 'docker.io', 'library/ubuntu', 'latest', null],
  ['ghcr.io/lab/lammps:2024', 'ghcr.io', 'lab/lammps', '2024', null],
  ['localhost:5000/x:y', 'localhost:5000', 'x', 'y', null],
  [`127.0.0.1:5000/lab/app@${D}`, '127.0.0.1:5000', 'lab/app', null, D],
  [`name:tag@${D}`, 'docker.io', 'library/name', 'tag', D],
  [`x@sha512:${'e'.repeat(128)}`, 'docker.io', 'library/x', null, `sha512:${'e'.repeat(128)}`],
  // sha384 is registered by go-digest v1.0.0, the version distribution/reference pins.
  [`x@sha384:${'c'.repeat(96)}`, 'docker.io', 'library/x', null, `sha384:${'c'.repeat(96)}`],
  [`x:${'t'.repeat(128)}`, 'docker.io', 'library/x', 't'.repeat(128), null],
  // The length limit is on the path, as in reference.go's Parse; Docker Hub's 'library/' counts.
  [`example.com/${'a'.repeat(NAME_TOTAL_LENGTH_MAX)}`, 'example.com', 'a'.repeat(255), 'latest', null],
  ['a'.repeat(247), 'docker.io', `library/${'a'.repeat(247)}`, 'latest', null],
];

describe('parseDockerReference: valid references', () => {
  it.each([...fromReferenceTest, ...fromNormalizeTest, ...issueExamples])('%s', (input, domain, path, tag, digest) => {
    const r = parseDockerReference(input);
    expect({ domain: r.domain, path: r.path, name: r.name, tag: r.tag, digest: r.digest }).toEqual({
      domain,
      path,
      name: `${domain}/${path}`,
      tag,
      digest,
    });
    expect(r.tagDefaulted).toBe(tag === 'latest' && digest === null && !/:latest(@|$)/.test(input));
    expect(r.canonical).toBe(`${domain}/${path}${tag === null ? '' : `:${tag}`}${digest === null ? '' : `@${digest}`}`);
    expect(isDockerReference(input)).toBe(true);
  });
});

describe('parseDockerReference: canonical and familiar forms', () => {
  const busybox = 'busybox:latest@sha256:86e0e091d0da6bde2456dbb48306f3956bbeb2eae1b5b9a43045843f69fe4aaa';
  const e669 = 'sha256:e6693c20186f837fc393390135d8a598a96a833917917789d63766cab6c59582';
  it.each([
    // issue examples
    ['ubuntu', 'docker.io/library/ubuntu:latest', 'ubuntu:latest'],
    ['lab/lammps:2024', 'docker.io/lab/lammps:2024', 'lab/lammps:2024'],
    [`ghcr.io/x/y@${D}`, `ghcr.io/x/y@${D}`, `ghcr.io/x/y@${D}`],
    // TestParseReferenceWithTagAndDigest
    [busybox, `docker.io/library/${busybox}`, busybox],
    // TestParseDockerRef (tag and digest are both kept here, as ParseNormalizedNamed does)
    ['busybox', 'docker.io/library/busybox:latest', 'busybox:latest'],
    [`busybox@${e669}`, `docker.io/library/busybox@${e669}`, `busybox@${e669}`],
    ['library/busybox', 'docker.io/library/busybox:latest', 'busybox:latest'],
    ['docker.io/busybox:latest', 'docker.io/library/busybox:latest', 'busybox:latest'],
    ['gcr.io/library/busybox', 'gcr.io/library/busybox:latest', 'gcr.io/library/busybox:latest'],
    [`gcr.io/library/busybox:latest@${e669}`, `gcr.io/library/busybox:latest@${e669}`, `gcr.io/library/busybox:latest@${e669}`],
    // TestParseRepositoryInfo (familiar, full and ambiguous spellings)
    ['localhost/fooo', 'localhost/fooo:latest', 'localhost/fooo:latest'],
    ['localhost/fooo/bar', 'localhost/fooo/bar:latest', 'localhost/fooo/bar:latest'],
    ['LOCALDOMAIN/fooo', 'LOCALDOMAIN/fooo:latest', 'LOCALDOMAIN/fooo:latest'],
    ['fooo/bar', 'docker.io/fooo/bar:latest', 'fooo/bar:latest'],
    ['index.docker.io/fooo/bar', 'docker.io/fooo/bar:latest', 'fooo/bar:latest'],
    ['library/ubuntu', 'docker.io/library/ubuntu:latest', 'ubuntu:latest'],
    ['nonlibrary/ubuntu', 'docker.io/nonlibrary/ubuntu:latest', 'nonlibrary/ubuntu:latest'],
    ['other/library', 'docker.io/other/library:latest', 'other/library:latest'],
    ['127.0.0.1:8000/private/moonbase', '127.0.0.1:8000/private/moonbase:latest', '127.0.0.1:8000/private/moonbase:latest'],
    ['example.com:8000/privatebasee', 'example.com:8000/privatebasee:latest', 'example.com:8000/privatebasee:latest'],
    ['index.docker.io/library/ubuntu-12.04-base', 'docker.io/library/ubuntu-12.04-base:latest', 'ubuntu-12.04-base:latest'],
    ['docker.io/foo', 'docker.io/library/foo:latest', 'foo:latest'],
    ['docker.io/library/foo/bar', 'docker.io/library/foo/bar:latest', 'library/foo/bar:latest'],
    ['store/foo/bar', 'docker.io/store/foo/bar:latest', 'store/foo/bar:latest'],
    ['Foo/bar', 'Foo/bar:latest', 'Foo/bar:latest'],
    ['FOO/bar', 'FOO/bar:latest', 'FOO/bar:latest'],
  ])('%s', (input, canonical, familiar) => {
    const r = parseDockerReference(input);
    expect([r.canonical, r.familiar]).toEqual([canonical, familiar]);
  });

  it('marks only a tag it made up as defaulted', () => {
    expect(parseDockerReference('ubuntu')).toMatchObject({ tag: 'latest', tagDefaulted: true });
    expect(parseDockerReference('ubuntu:latest')).toMatchObject({ tag: 'latest', tagDefaulted: false });
    expect(parseDockerReference(`ubuntu@${D}`)).toMatchObject({ tag: null, tagDefaulted: false, digest: D });
  });
});

/** [input, what the message says after `image reference "<input>": `] */
type Bad = [input: string, kind: string];
const FORMAT = 'invalid reference format';
const LOWER = 'repository name must be lowercase';
const LONG = 'repository name must not be more than 255 characters';

const invalid: Bad[] = [
  // reference_test.go TestReferenceParse
  ['', 'empty image reference'],
  [':justtag', FORMAT],
  [`@${D}`, FORMAT],
  [`repo@sha256:${'f'.repeat(34)}`, 'invalid checksum digest length'],
  [`validname@invaliddigest:${F64}`, 'unsupported digest algorithm'],
  ['Uppercase:tag', LOWER],
  ['test:5000/Uppercase/lowercase:tag', LOWER],
  [`domain/${'a'.repeat(256)}:tag`, LONG],
  ['aa/asdf$$^/aa', FORMAT],
  ['[2001:db8::1]', FORMAT],
  ['[2001:db8::1]:5000', FORMAT],
  ['[2001:db8::1]:tag', FORMAT],
  ['[fe80::1%eth0]:5000/repo', FORMAT],
  ['[fe80::1%@invalidzone]:5000/repo', FORMAT],
  // reference_test.go TestWithNameFailure
  [`example.com/${'a'.repeat(256)}`, LONG],
  // normalize_test.go TestValidateReferenceName
  ['https://github.com/docker/docker', FORMAT],
  ['docker/Docker', LOWER],
  ['-docker', FORMAT],
  ['-docker/docker', FORMAT],
  ['-docker.io/docker/docker', FORMAT],
  ['docker///docker', FORMAT],
  ['docker.io/docker/Docker', LOWER],
  ['docker.io/docker///docker', FORMAT],
  ['[fc00::1]', FORMAT],
  ['[fc00::1]:5000', FORMAT],
  ['fc00::1:5000/debian', FORMAT],
  ['[fe80::1%eth0]:5000/debian', FORMAT],
  ['[2001:db8:3:4::192.0.2.33]:5000/debian', FORMAT],
  [HEX64, 'invalid repository name, cannot specify 64-byte hexadecimal strings'],
  // normalize_test.go TestValidateRemoteName
  ['docker-/docker', FORMAT],
  ['-docker-/docker', FORMAT],
  ['____/____', FORMAT],
  ['_docker/_docker', FORMAT],
  ['dock..er/docker', FORMAT],
  ['dock_.er/docker', FORMAT],
  ['dock-.er/docker', FORMAT],
  ['docker/', FORMAT],
  [`${'this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255_'.repeat(3)}this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255/docker`, LONG],
  // issue examples
  ['Ubuntu', LOWER],
  ['x@sha256:abc', FORMAT], // the grammar wants at least 32 hex digits before go-digest looks at it
  [`x@sha256:${'a'.repeat(40)}`, 'invalid checksum digest length'],
  [`x@sha512:${F64}`, 'invalid checksum digest length'],
  [`x@md5:${'a'.repeat(32)}`, 'unsupported digest algorithm'],
  [`x@sha256:${F64.toUpperCase()}`, 'invalid checksum digest format'],
  [`x@SHA256:${F64}`, 'invalid checksum digest format'],
  [`x:${'t'.repeat(129)}`, FORMAT],
  [`x:-tag`, FORMAT],
  [`example.com/${'a'.repeat(256)}`, LONG],
  ['a'.repeat(248), LONG],
  ['./images/lammps', FORMAT],
  ['/abs/path', FORMAT],
  ['../images/lammps', FORMAT],
  ['~/images/lammps', FORMAT],
  ['/usr/bin', FORMAT], // a path that exists: the same answer (parsing does no I/O)
  ['docker://ubuntu', FORMAT],
  [' ubuntu', FORMAT],
  ['ubuntu:latest\nrm -rf /', FORMAT],
  // Go's Parse would accept this as a name with no registry host at all; we refuse it.
  ['foo_bar.com/x', FORMAT],
];

describe('parseDockerReference: refused references', () => {
  it.each(invalid)('%s', (input, kind) => {
    expect(errorOf(input)).toMatch(new RegExp(`^image reference ${escape(JSON.stringify(input))}: ${escape(kind)}( \\(|$)`));
    expect(isDockerReference(input)).toBe(false);
  });
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

describe('parseDockerReference: hints say which part is wrong', () => {
  it.each([
    ['aa/asdf$$^/aa', 'character 8 ("$") is not allowed in a repository name'],
    ['docker///docker', '"//" at character 7'],
    ['docker/', 'must not end with "/"'],
    ['docker-/docker', 'path component "docker-" must start and end with a lower-case letter or digit'],
    ['a__-b/x', 'separator "__-" at character 2 is not allowed'],
    ['Ubuntu', 'repository path "library/Ubuntu"'],
    [`x:${'t'.repeat(129)}`, 'the tag is 129 characters, at most 128 are allowed'],
    ['x:-tag', 'the tag must start with a letter, digit or "_"'],
    ['x:ta g', 'character 5 (U+0020) is not allowed in a tag'],
    ['x:', 'the tag after ":" is empty'],
    ['x@sha256:abc', 'the digest has 3 hex digits; sha256 needs 64'],
    [`x@sha256:${'a'.repeat(40)}`, 'sha256 needs 64 hex digits, got 40'],
    [`x@md5:${'a'.repeat(32)}`, '"md5"; supported: sha256, sha384, sha512'],
    [`x@sha256:${F64.toUpperCase()}`, 'hex digits must be lower case'],
    [`x@SHA256:${F64}`, 'the digest algorithm "SHA256" must be lower case'],
    ['x@sha256', 'a digest is <algorithm>:<hex>'],
    ['[fe80::1%eth0]:5000/repo', 'character 9 ("%") is not allowed in an IPv6 registry host'],
    ['[fc00::1]:5000', 'a registry host must be followed by "/" and a repository path'],
    ['fc00::1:5000/debian', 'an IPv6 address must be written in brackets'],
    ['foo_bar.com/x', 'character 4 ("_") is not allowed in registry host "foo_bar.com"'],
    ['https://github.com/docker/docker', 'drop "https://"'],
    ['./images/lammps', 'this looks like a local path'],
    ['/abs/path', 'for local images use oci:PATH'],
    ['a'.repeat(248), 'the repository path is 256 characters including the "library/" Docker Hub adds'],
    [`example.com/${'a'.repeat(256)}`, 'the repository path is 256 characters)'],
    [HEX64, 'that is an image ID'],
  ])('%s', (input, hint) => {
    expect(errorOf(input)).toContain(hint);
  });

  it('keeps every message on one line, whatever the input holds', () => {
    for (const input of ['a\nb', 'a\r\nb:c', 'x:\u2028', 'x\u2029y/z', 'x:\u0085', 'ubuntu\n']) {
      expect(errorOf(input).split('\n')).toHaveLength(1);
    }
  });
});

describe('NAME_TOTAL_LENGTH_MAX', () => {
  it('is distribution\'s 255, inclusive', () => {
    expect(NAME_TOTAL_LENGTH_MAX).toBe(255);
    expect(parseDockerReference(`lab/${'a'.repeat(251)}`).path).toHaveLength(255);
    expect(errorOf(`lab/${'a'.repeat(252)}`)).toContain(LONG);
  });
});

describe('docker-reference module', () => {
  it('does no I/O: it imports nothing but the errors module', () => {
    const source = readFileSync(new URL('../src/image/docker-reference.ts', import.meta.url), 'utf8');
    const imports = [...source.matchAll(/^import\s.*?from\s+'([^']+)'/gms)].map((m) => m[1]);
    expect(imports).toEqual(['../errors/index.js']);
  });
});

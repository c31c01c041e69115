/**
 * The built fixture images (fixtures/build/, made by `node fixtures/build.mjs`) and what their
 * expected.json files say. Integration tests compare containerspec's facts with these files,
 * which record what the real Debian packages put into each image.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const FIXTURES = join(REPO, 'fixtures');
export const BUILD = join(FIXTURES, 'build');
export const SAMPLE = join(FIXTURES, 'sample');

export interface ExpectedPlatform {
  architecture: string;
  os: string;
  variant: string | null;
}
export interface ExpectedOs {
  id: string;
  versionId: string;
  versionCodename?: string;
  prettyName: string;
}
export interface ExpectedMpi {
  implementation: string;
  version: string;
  soname: string;
  package: string;
  packageVersion: string;
  path: string;
}
export interface ExpectedCuda {
  runtime: string;
  runtimeFull: string;
  runtimePath: string;
  compatDriver: string | null;
  compatPath?: string;
}
export interface ExpectedLayer {
  digest: string;
  diffId: string;
  mediaType: string;
  size: number;
}
/** The facts one platform of an image should yield. */
export interface ExpectedFacts {
  platform: ExpectedPlatform;
  packages: Record<string, string>;
  glibc: string | null;
  musl: string | null;
  os: ExpectedOs | null;
  mpi: ExpectedMpi[];
  cuda: ExpectedCuda | null;
  labels: Record<string, string>;
  env: Record<string, string>;
  manifestDigest: string;
  configDigest: string;
  layers: ExpectedLayer[];
  muslLoader?: string;
  staticExecutables?: string[];
}
export interface ExpectedImage extends ExpectedFacts {
  name: string;
  kind: 'good' | 'suspicious';
  platforms?: ExpectedFacts[];
  indexDigest?: string;
  docker25?: { manifestDigest: string; configDigest: string; layers: ExpectedLayer[] };
  warning?: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  warningDetail?: any;
}
export interface ExpectedMalformed {
  name: string;
  kind: 'malformed';
  error: { kind: string; blob: string };
  detail: string;
}
export interface IndexEntry {
  name: string;
  kind: 'good' | 'suspicious' | 'malformed';
  paths: Record<string, string>;
}

function tail(s: string, n = 30): string {
  return s.split('\n').slice(-n).join('\n');
}

/**
 * Run `node fixtures/build.mjs` (a no-op when fixtures/build/STAMP is current; the first build
 * downloads Debian packages and takes minutes). Throws with the output's tail when it fails:
 * the fixtures are required, a test that needs them must fail without them.
 */
export async function buildFixtures(timeoutMs = 15 * 60_000): Promise<void> {
  const script = join(FIXTURES, 'build.mjs');
  if (!existsSync(script)) throw new Error(`fixtures/build.mjs is missing (${script})`);
  await new Promise<void>((res, rej) => {
    const child = spawn(process.execPath, [script], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGTERM');
      rej(new Error(`node fixtures/build.mjs did not finish in ${timeoutMs / 1000} s:\n${tail(out)}`));
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      rej(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) res();
      else rej(new Error(`node fixtures/build.mjs failed (exit ${code ?? signal}):\n${tail(out)}`));
    });
  });
  if (!existsSync(join(BUILD, 'index.json'))) throw new Error('node fixtures/build.mjs succeeded but wrote no fixtures/build/index.json');
}

export function loadIndex(): IndexEntry[] {
  const idx = JSON.parse(readFileSync(join(BUILD, 'index.json'), 'utf8')) as { images: IndexEntry[] };
  if (!Array.isArray(idx.images) || idx.images.length === 0) throw new Error('fixtures/build/index.json lists no images');
  return idx.images;
}

export function fixturePath(rel: string): string {
  return join(BUILD, rel);
}

export function loadExpected<T = ExpectedImage | ExpectedMalformed>(entry: IndexEntry): T {
  const rel = entry.paths.expected ?? `${entry.name}/expected.json`;
  return JSON.parse(readFileSync(fixturePath(rel), 'utf8')) as T;
}

export function loadSampleExpected(): ExpectedImage {
  return JSON.parse(readFileSync(join(FIXTURES, 'sample.expected.json'), 'utf8')) as ExpectedImage;
}

/** One way to read an image: a transport reference plus what it should yield. */
export interface Access {
  /** Short test label, e.g. `oci`, `docker-archive`, `oci --platform linux/arm64/v8`. */
  label: string;
  transport: 'oci' | 'oci-archive' | 'docker-archive' | 'docker25' | 'dir' | 'tar';
  ref: string;
  platform?: string;
  /** The facts this access should yield. */
  expect: ExpectedFacts;
  /** OCI / docker transports carry a config (labels, env, config digest); dir: and tar: do not. */
  hasConfig: boolean;
  /** True when fixtures/<name>/rootfs holds the filesystem this access reads. */
  rootfsMatches: boolean;
}

export function platformString(p: ExpectedPlatform): string {
  return `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ''}`;
}

/**
 * Every transport the index lists for an image. For a multi-platform index (oci:, oci-archive:)
 * one access per platform, chosen explicitly with --platform.
 */
export function accessesOf(entry: IndexEntry, exp: ExpectedImage): Access[] {
  const out: Access[] = [];
  const p = entry.paths;
  const samePlatform = (a: ExpectedPlatform, b: ExpectedPlatform) =>
    a.os === b.os && a.architecture === b.architecture && (a.variant ?? null) === (b.variant ?? null);
  const perPlatform = (transport: 'oci' | 'oci-archive', prefix: string, rel: string) => {
    if (exp.platforms?.length) {
      for (const pf of exp.platforms) {
        const platform = platformString(pf.platform);
        out.push({
          label: `${transport} --platform ${platform}`,
          transport,
          ref: `${prefix}:${fixturePath(rel)}`,
          platform,
          expect: pf,
          hasConfig: true,
          rootfsMatches: samePlatform(pf.platform, exp.platform),
        });
      }
    } else {
      out.push({ label: transport, transport, ref: `${prefix}:${fixturePath(rel)}`, expect: exp, hasConfig: true, rootfsMatches: true });
    }
  };
  if (p.oci) perPlatform('oci', 'oci', p.oci);
  if (p.ociArchive) perPlatform('oci-archive', 'oci-archive', p.ociArchive);
  if (p.dockerArchive) {
    out.push({ label: 'docker-archive', transport: 'docker-archive', ref: `docker-archive:${fixturePath(p.dockerArchive)}`, expect: exp, hasConfig: true, rootfsMatches: true });
  }
  if (p.docker25Archive) {
    out.push({ label: 'docker-archive (docker 25+)', transport: 'docker25', ref: `docker-archive:${fixturePath(p.docker25Archive)}`, expect: exp, hasConfig: true, rootfsMatches: true });
  }
  if (p.rootfs) out.push({ label: 'dir', transport: 'dir', ref: `dir:${fixturePath(p.rootfs)}`, expect: exp, hasConfig: false, rootfsMatches: true });
  if (p.rootfsTar) out.push({ label: 'tar', transport: 'tar', ref: `tar:${fixturePath(p.rootfsTar)}`, expect: exp, hasConfig: false, rootfsMatches: true });
  return out;
}

/** OCI architecture of the machine running the tests (what `inspect` picks by default). */
export function hostArchitecture(): string | null {
  const map: Record<string, string> = { x64: 'amd64', arm64: 'arm64', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64', ia32: '386', arm: 'arm' };
  return map[process.arch] ?? null;
}

/** Upstream part of a Debian version: drop the epoch and the Debian revision. */
export function debianUpstream(v: string): string {
  return v.replace(/^\d+:/, '').replace(/-[^-]*$/, '');
}

/** Compare dotted numeric versions ("2.29" < "2.31", "3.10.0" > "3.7.0"). */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map((x) => Number.parseInt(x, 10));
  const pb = b.split('.').map((x) => Number.parseInt(x, 10));
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (Number.isNaN(d)) throw new Error(`not a dotted numeric version: ${a} / ${b}`);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

/**
 * The real ORAS CLI (Debian trixie's `oras` package, a static-ish Go binary needing only libc) as
 * an interop peer: fetched once with apt-get under a private apt configuration into
 * fixtures/.cache/oras/, unpacked with dpkg-deb, and run against the test registries.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, withLock } from './cli.js';
import { runTool, type ToolResult } from './registry.js';

/** Where the package is unpacked and its apt state lives (git-ignored). */
export const ORAS_CACHE = join(REPO, 'fixtures/.cache/oras');
const ROOT = join(ORAS_CACHE, 'root');
const BINARY = join(ROOT, 'usr/bin/oras');
/** The fixtures' private apt state (fixtures/build.mjs), reused when it has trixie lists. */
const FIXTURE_APT = join(REPO, 'fixtures/.cache/apt');

const debArch = (): string | null => ({ x64: 'amd64', arm64: 'arm64', ppc64: 'ppc64el', s390x: 's390x' } as Record<string, string>)[process.arch] ?? null;

const lastLine = (s: string): string => s.trim().split('\n').filter((l) => l.trim()).pop() ?? '';

/** The Debian archive URL: the fixtures' sources.list, else this machine's apt sources, else deb.debian.org. */
function archiveUrl(): string {
  const files = [join(FIXTURE_APT, 'sources.list'), '/etc/apt/sources.list'];
  if (existsSync('/etc/apt/sources.list.d')) files.push(...readdirSync('/etc/apt/sources.list.d').sort().map((f) => join('/etc/apt/sources.list.d', f)));
  for (const f of files) {
    if (!existsSync(f)) continue;
    const text = readFileSync(f, 'utf8');
    const m = /^deb\s+(?:\[[^\]]*\]\s+)?(https?:\/\/\S+)\s+(?:bullseye|bookworm|trixie|stable|testing)\s/m.exec(text) ?? /^URIs:\s*(https?:\/\/\S+)/m.exec(text);
    if (m?.[1] && !/security/.test(m[1])) return m[1].replace(/\/+$/, '');
  }
  return 'http://deb.debian.org/debian';
}

/** apt-get/apt-cache options for a private configuration: our sources.list, `lists`, our cache, no system state. */
function aptOptions(sourcesList: string, lists: string, arch: string): string[] {
  const o = [
    `Dir::Etc::SourceList=${sourcesList}`, 'Dir::Etc::SourceParts=/dev/null', `Dir::State::Lists=${lists}`,
    `Dir::Cache=${join(ORAS_CACHE, 'apt-cache')}`, 'Dir::State::status=/dev/null', 'Dir::Etc::Preferences=/dev/null',
    'Dir::Etc::PreferencesParts=/dev/null', `APT::Architectures=${arch}`, 'Acquire::Languages=none', 'APT::Default-Release=',
  ];
  if (process.getuid?.() === 0) o.push('APT::Sandbox::User=root');
  return o.flatMap((x) => ['-o', x]);
}

/**
 * Lists to read: the fixtures' when they hold trixie main for `arch` (a sources.list naming just
 * that reads just those files), else our own, updated once.
 */
async function aptConfig(arch: string): Promise<{ opts: string[] } | { skip: string }> {
  const archive = archiveUrl();
  const sourcesList = join(ORAS_CACHE, 'sources.list');
  writeFileSync(sourcesList, `deb [trusted=yes arch=${arch}] ${archive} trixie main\n`);
  const listName = `${archive.replace(/^https?:\/\//, '').replace(/\/+$/, '').replace(/\//g, '_')}_dists_trixie_main_binary-${arch}_Packages`;
  const has = (dir: string) => existsSync(dir) && readdirSync(dir).some((f) => f.startsWith(listName));
  const fixtureLists = join(FIXTURE_APT, 'lists');
  if (has(fixtureLists)) return { opts: aptOptions(sourcesList, fixtureLists, arch) };
  const lists = join(ORAS_CACHE, 'lists');
  mkdirSync(join(lists, 'partial'), { recursive: true });
  const opts = aptOptions(sourcesList, lists, arch);
  if (!has(lists)) {
    const r = await runTool('apt-get', [...opts, '-q', 'update'], { timeoutMs: 300_000 });
    if (r.status !== 0 || /^(E:|Err:)/m.test(r.stdout + r.stderr)) return { skip: `apt-get update against ${archive} trixie failed: ${lastLine(r.stderr || r.stdout)}` };
  }
  return { opts };
}

/** Download oras/trixie and unpack it into ROOT (atomically: a temp dir renamed). */
async function fetchOras(): Promise<{ path: string } | { skip: string }> {
  const arch = debArch();
  if (!arch) return { skip: `no Debian architecture for ${process.arch}` };
  for (const d of [ORAS_CACHE, join(ORAS_CACHE, 'apt-cache/archives/partial')]) mkdirSync(d, { recursive: true });
  const cfg = await aptConfig(arch);
  if ('skip' in cfg) return cfg;
  const madison = await runTool('apt-cache', [...cfg.opts, 'madison', `oras:${arch}`]);
  const version = /^\s*oras(?::\S+)?\s*\|\s*(\S+)\s*\|.*trixie/m.exec(madison.stdout)?.[1];
  if (!version) return { skip: `apt-cache madison finds no oras:${arch} in trixie: ${lastLine(madison.stderr || madison.stdout) || 'no output'}` };
  const debs = join(ORAS_CACHE, 'debs');
  mkdirSync(debs, { recursive: true });
  const dl = await runTool('apt-get', [...cfg.opts, '-q', 'download', `oras:${arch}=${version}`], { cwd: debs, timeoutMs: 300_000 });
  const deb = readdirSync(debs).find((f) => f.startsWith('oras_') && f.endsWith(`_${arch}.deb`));
  if (dl.status !== 0 || !deb) return { skip: `apt-get download oras:${arch}=${version} failed: ${lastLine(dl.stderr || dl.stdout)}` };
  const tmp = `${ROOT}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  const x = await runTool('dpkg-deb', ['-x', join(debs, deb), tmp]);
  if (x.status !== 0 || !existsSync(join(tmp, 'usr/bin/oras'))) return { skip: `dpkg-deb -x ${deb} failed: ${lastLine(x.stderr) || 'no usr/bin/oras in it'}` };
  rmSync(ROOT, { recursive: true, force: true });
  renameSync(tmp, ROOT);
  return { path: BINARY };
}

/** Does the unpacked binary run? */
async function works(): Promise<boolean> {
  return existsSync(BINARY) && (await runTool(BINARY, ['version'], { timeoutMs: 30_000 })).status === 0;
}

let pending: Promise<{ path: string } | { skip: string }> | undefined;

/**
 * The path of a working `oras` binary (downloaded on first use, cached in fixtures/.cache/oras),
 * or a one-line reason to skip. Parallel test files serialize on a mkdir lock.
 */
export function orasBinary(): Promise<{ path: string } | { skip: string }> {
  pending ??= (async () => {
    if (await works()) return { path: BINARY };
    mkdirSync(ORAS_CACHE, { recursive: true });
    try {
      return await withLock(join(ORAS_CACHE, '.lock'), async () => {
        if (await works()) return { path: BINARY };
        const r = await fetchOras();
        if ('skip' in r) return r;
        return (await works()) ? r : { skip: `${BINARY} does not run (oras version failed)` };
      });
    } catch (e) {
      return { skip: `cannot fetch oras: ${e instanceof Error ? e.message : String(e)}` };
    }
  })();
  return pending;
}

/** Options for one oras run. */
export interface OrasOptions {
  /** A CA file to trust: `--ca-file` (for `oras cp`: `--from-ca-file` and `--to-ca-file`). */
  caFile?: string;
  /** A docker-style auth file: `--registry-config` (for `oras cp`: both sides). */
  registryConfig?: string;
  cwd?: string;
  timeoutMs?: number;
}

/** Commands that take no registry flags. */
const LOCAL = new Set(['version', 'help', 'completion', '--help', '-h']);

/** The TLS and credential flags for `args`' subcommand. */
function orasFlags(args: string[], opts: OrasOptions): string[] {
  const cmd = args[0] ?? '';
  if (LOCAL.has(cmd)) return [];
  const sides = cmd === 'cp' || cmd === 'copy' ? ['--from-', '--to-'] : ['--'];
  const out: string[] = [];
  for (const s of sides) {
    if (opts.caFile) out.push(`${s}ca-file`, opts.caFile);
    if (opts.registryConfig) out.push(`${s}registry-config`, opts.registryConfig);
  }
  return out;
}

/**
 * Run the oras binary (from orasBinary(); throws when there is none) with `args` plus the
 * CA and credential flags. Async: the token server and fault proxy live in this process.
 */
export async function runOras(args: string[], opts: OrasOptions = {}): Promise<ToolResult> {
  const bin = await orasBinary();
  if ('skip' in bin) throw new Error(bin.skip);
  const env = { ...process.env, HOME: process.env.HOME ?? ORAS_CACHE };
  return runTool(bin.path, [...args, ...orasFlags(args, opts)], { ...(opts.cwd ? { cwd: opts.cwd } : {}), env, timeoutMs: opts.timeoutMs ?? 120_000 });
}

/** A docker config.json body (for `registryConfig`) holding `user:password` for `host`. */
export function dockerConfig(host: string, user: string, password: string): string {
  return `${JSON.stringify({ auths: { [host]: { auth: Buffer.from(`${user}:${password}`).toString('base64') } } }, null, 2)}\n`;
}

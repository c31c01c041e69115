/**
 * Facts files (`containerspec host --json`, `containerspec inspect --json`): read, validated against
 * the schema of their version, and upgraded to the current model. Version 1.0 documents are still
 * read: what 1.0 did not record stays unknown (null), never guessed.
 */
import { FactsError } from '../errors/index.js';
import { parseBoundedJson } from './boundary.js';
import { parseReference } from '../image/reference.js';
import { emptySystem } from './empty.js';
import {
  FACTS_SCHEMA_VERSION,
  type Evidence,
  type Facts,
  type GpuDevice,
  type HostFacts,
  type ImageFacts,
} from './facts.js';
import { assertValid } from './validate.js';
import { readLimits } from '../limits.js';
import { readRegularFile } from '../util/files.js';

/** Facts schema versions this code reads. */
export const READABLE_FACTS_VERSIONS = ['1.0', '2.0', FACTS_SCHEMA_VERSION] as const;

const MAKE_FACTS = { host: 'containerspec host --json', image: 'containerspec inspect IMAGE --json' } as const;

type Doc = Record<string, unknown>;
const obj = (v: unknown): Doc => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Doc) : {});
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const list = <T>(v: unknown): T[] => (Array.isArray(v) ? (v as T[]) : []);

/** A 1.0 host document as the 2.0 model (validated against facts-1.0 first). */
function upgradeHost(d: Doc): HostFacts {
  const gpu = obj(d.gpu);
  const kernel = obj(d.kernel);
  const system = obj(d.system);
  const sys = emptySystem();
  const driver = str(gpu.driver);
  const devices: GpuDevice[] = list<Doc>(gpu.devices).map((x) => {
    const vendor = x.vendor === 'amd' ? 'amd' : 'nvidia';
    return {
      vendor, bus: str(x.bus) ?? '', model: str(x.model), id: str(x.id), uuid: null, pciClass: null, kernelDriver: null,
      gfxTarget: vendor === 'amd' ? str(x.model) : null, kfdNode: null, seenIn: [],
    };
  });
  const config = kernel.config && typeof kernel.config === 'object' ? (kernel.config as Record<string, string>) : null;
  const cpu = obj(system.cpu);
  const virt = obj(system.virtualization);
  return {
    schemaVersion: FACTS_SCHEMA_VERSION,
    kind: 'host',
    name: str(d.name) ?? 'host',
    platform: d.platform as HostFacts['platform'],
    os: d.os as HostFacts['os'],
    libc: d.libc as HostFacts['libc'],
    mpi: d.mpi as HostFacts['mpi'],
    cuda: d.cuda as HostFacts['cuda'],
    stats: d.stats as HostFacts['stats'],
    warnings: d.warnings as HostFacts['warnings'],
    cpu: d.cpu as HostFacts['cpu'],
    kernel: {
      release: str(kernel.release),
      version: str(kernel.version),
      machine: str(kernel.machine),
      cmdline: str(kernel.cmdline),
      config: config ? { source: 'unknown', path: str(kernel.configSource) ?? '', options: config, notSet: [], complete: true } : null,
      modules: list<string>(kernel.modules),
      builtinModules: null,
      sysctls: obj(kernel.sysctls) as Record<string, string | null>,
      userNamespaces: typeof kernel.userNamespaces === 'boolean' ? kernel.userNamespaces : null,
      evidence: list<Evidence>(kernel.evidence),
    },
    gpu: {
      driver,
      driverSource: driver ? { kind: 'unknown', path: null } : null,
      kernelModule: null,
      cudaMax: str(gpu.cudaMax),
      brand: str(gpu.brand),
      computeCapability: str(gpu.computeCapability),
      libraries: [],
      devices,
      rocm: str(gpu.rocm),
      amdDriver: null,
      amdModuleLoaded: null,
      evidence: list<Evidence>(gpu.evidence),
    },
    emulators: list<Doc>(d.emulators).map((e) => ({
      name: str(e.name) ?? '',
      architecture: str(e.architecture),
      interpreter: str(e.interpreter),
      flags: str(e.flags),
      fixBinary: (str(e.flags) ?? '').includes('F'),
      path: null,
    })),
    binfmt: { status: null, evidence: [] },
    system: {
      hostname: str(system.hostname),
      memTotalBytes: num(system.memTotalBytes),
      cpu: { logical: num(cpu.logical), physical: num(cpu.physical), model: str(cpu.model) },
      virtualization: {
        virtual: typeof virt.virtual === 'boolean' ? virt.virtual : null,
        hypervisor: str(virt.hypervisor),
        cpuCanVirtualize: typeof virt.cpuCanVirtualize === 'boolean' ? virt.cpuCanVirtualize : null,
      },
      slow: system.slow === true,
      evidence: list<Evidence>(system.evidence).length ? list<Evidence>(system.evidence) : sys.evidence,
    },
  };
}

/** The transport named by an image reference, or `unknown`. */
function transportOf(name: string): string {
  try {
    return parseReference(name).transport;
  } catch {
    return 'unknown';
  }
}

/** A 1.0 image document as the 2.0 model (validated against facts-1.0 first). */
function upgradeImage(d: Doc): ImageFacts {
  const name = str(d.name) ?? '';
  const f: ImageFacts = {
    schemaVersion: FACTS_SCHEMA_VERSION,
    kind: 'image',
    name,
    transport: transportOf(name),
    digest: str(d.digest),
    config: { digest: str(obj(d.config).digest) },
    layers: list(d.layers),
    platform: d.platform as ImageFacts['platform'],
    os: d.os as ImageFacts['os'],
    libc: d.libc as ImageFacts['libc'],
    mpi: d.mpi as ImageFacts['mpi'],
    cuda: d.cuda as ImageFacts['cuda'],
    labels: obj(d.labels) as Record<string, string>,
    env: obj(d.env) as Record<string, string>,
    permissions: (d.permissions ?? null) as ImageFacts['permissions'],
    requires: d.requires as ImageFacts['requires'],
    sonames: list<string>(d.sonames),
    stats: d.stats as ImageFacts['stats'],
    warnings: d.warnings as ImageFacts['warnings'],
  };
  if (Array.isArray(d.platforms)) f.platforms = d.platforms as string[];
  return f;
}

/** A 2.0 document as 2.1: the same, but a host's kernel config (always the whole one in 2.0) says it is complete. */
function upgrade20(d: Doc): Facts {
  const f = { ...d, schemaVersion: FACTS_SCHEMA_VERSION } as unknown as Facts;
  if (f.kind === 'host' && f.kernel.config) f.kernel = { ...f.kernel, config: { ...f.kernel.config, complete: true } };
  return f;
}

/**
 * Upgrade a facts document of any readable version to the current model. The document must already
 * be valid against its version's schema.
 */
export function upgradeFacts(doc: unknown): Facts {
  const d = obj(doc);
  if (d.schemaVersion === FACTS_SCHEMA_VERSION) return d as unknown as Facts;
  if (d.schemaVersion === '2.0') return upgrade20(d);
  if (d.schemaVersion !== '1.0') throw new FactsError(`unsupported facts schemaVersion ${JSON.stringify(d.schemaVersion)} (this version reads ${READABLE_FACTS_VERSIONS.join(', ')})`);
  return d.kind === 'host' ? upgradeHost(d) : upgradeImage(d);
}

/** Read a facts file, check it is of the wanted kind, validate it against its version's schema, and upgrade it. */
export async function readFactsFile(file: string, kind: 'host'): Promise<HostFacts>;
export async function readFactsFile(file: string, kind: 'image'): Promise<ImageFacts>;
export async function readFactsFile(file: string, kind: 'host' | 'image'): Promise<Facts> {
  readLimits();
  const where = `${kind} facts file ${file}`;
  return parseFacts(await readRegularFile(file, 'jsonBytes', where), kind, where);
}

/**
 * Parse a facts document (a file's bytes, an attached artifact's layer), check it is of the wanted
 * kind, validate it against its version's schema, and upgrade it. `where` names it in errors.
 */
export async function parseFacts(data: Buffer, kind: 'host', where: string): Promise<HostFacts>;
export async function parseFacts(data: Buffer, kind: 'image', where: string): Promise<ImageFacts>;
export async function parseFacts(data: Buffer, kind: 'host' | 'image', where: string): Promise<Facts>;
export async function parseFacts(data: Buffer, kind: 'host' | 'image', where: string): Promise<Facts> {
  const v = parseBoundedJson(data, where) as Doc | null;
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new FactsError(`${where}: not a JSON object`);
  if (v.kind !== kind) throw new FactsError(`${where}: not ${kind} facts (kind is ${JSON.stringify(v.kind)}; make one with "${MAKE_FACTS[kind]}")`);
  if (v.schemaVersion === '1.0') await assertValid('facts-1.0', v, where);
  else if (v.schemaVersion === '2.0') await assertValid('facts-2.0', v, where);
  else if (v.schemaVersion === FACTS_SCHEMA_VERSION) await assertValid('facts-2.1', v, where);
  else {
    throw new FactsError(`${where}: unsupported schemaVersion ${JSON.stringify(v.schemaVersion)} (this version reads ${READABLE_FACTS_VERSIONS.join(', ')}; make a new one with "${MAKE_FACTS[kind]}")`);
  }
  return upgradeFacts(v);
}

/** Read and validate a host facts file (from `containerspec host --json`, version 1.0, 2.0 or 2.1). */
export function readHostFacts(file: string): Promise<HostFacts> {
  return readFactsFile(file, 'host');
}

/** Read and validate an image facts file (from `containerspec inspect --json`, version 1.0, 2.0 or 2.1). */
export function readImageFacts(file: string): Promise<ImageFacts> {
  return readFactsFile(file, 'image');
}

// Builds (once) the inspect bench images under bench/.work/: about 1 GB of this machine's
// libraries, headers and binaries as an OCI layout, once as ONE gzip layer and once as FOUR
// (the file list split into 4 contiguous parts of roughly equal size). GNU tar with
// --owner=0 --group=0 --numeric-owner, gzip -6. A finished layout is reused as long as its
// stamp file and blobs are present.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync, renameSync, lstatSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/** Directories packed, relative to /. */
export const SOURCE_DIRS = ['usr/lib/x86_64-linux-gnu', 'usr/include', 'usr/sbin', 'usr/lib/gcc'];
const STAMP_VERSION = 2;

function log(msg) {
  process.stdout.write(`  [image] ${msg}\n`);
}

/** Every entry under the source dirs (dirs, files, symlinks), sorted by path, with sizes (files only). */
function listEntries() {
  const out = [];
  const seen = new Set(); // hard links: tar stores the data once, so count it once
  const walk = (rel) => {
    let st;
    try {
      st = lstatSync(`/${rel}`);
    } catch {
      return;
    }
    if (st.isDirectory()) {
      out.push({ path: rel, size: 0 });
      let names;
      try {
        names = readdirSync(`/${rel}`).sort();
      } catch {
        return;
      }
      for (const n of names) walk(`${rel}/${n}`);
    } else if (st.isFile()) {
      const key = `${st.dev}:${st.ino}`;
      out.push({ path: rel, size: seen.has(key) ? 0 : st.size });
      seen.add(key);
    }
    else if (st.isSymbolicLink()) out.push({ path: rel, size: 0 });
    // sockets, fifos, devices: skipped
  };
  // parents of the source dirs first, so every layer's tree is rooted
  out.push({ path: 'usr', size: 0 }, { path: 'usr/lib', size: 0 });
  for (const d of SOURCE_DIRS) walk(d);
  return out;
}

/** Split a sorted entry list into `n` contiguous parts of roughly equal byte size. */
function splitBySize(entries, n) {
  const total = entries.reduce((s, e) => s + e.size, 0);
  const parts = Array.from({ length: n }, () => []);
  let acc = 0;
  for (const e of entries) {
    const k = Math.min(n - 1, Math.floor((acc * n) / total));
    parts[k].push(e);
    acc += e.size;
  }
  return parts;
}

function sha256File(file) {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(file, { highWaterMark: 1 << 20 })
      .on('data', (c) => h.update(c))
      .on('end', () => resolve(h.digest('hex')))
      .on('error', reject);
  });
}

/** tar (GNU) the listed paths | tee sha256 (diff_id) | gzip -6 -n > out. Returns { diffId, tarBytes }. */
async function packLayer(listFile, outFile) {
  const tar = spawn('tar', ['-C', '/', '--owner=0', '--group=0', '--numeric-owner', '--no-recursion', '-cf', '-', '-T', listFile], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const gz = spawn('sh', ['-c', `gzip -6 -n > '${outFile}'`], { stdio: ['pipe', 'ignore', 'inherit'] });
  let tarErr = '';
  tar.stderr.on('data', (d) => (tarErr += d));
  const h = createHash('sha256');
  let tarBytes = 0;
  const tap = new Transform({
    transform(chunk, _e, cb) {
      h.update(chunk);
      tarBytes += chunk.length;
      cb(null, chunk);
    },
  });
  const tarDone = new Promise((res) => tar.on('close', (code) => res(code)));
  const gzDone = new Promise((res) => gz.on('close', (code) => res(code)));
  await pipeline(tar.stdout, tap, gz.stdin);
  const [tc, gc] = await Promise.all([tarDone, gzDone]);
  // GNU tar exits 1 for "file changed as we read it": the archive is still complete.
  if (tc !== 0 && tc !== 1) throw new Error(`tar failed (${tc}): ${tarErr.slice(0, 2000)}`);
  if (gc !== 0) throw new Error(`gzip failed (${gc})`);
  return { diffId: `sha256:${h.digest('hex')}`, tarBytes };
}

function writeBlob(dir, buf) {
  const hex = createHash('sha256').update(buf).digest('hex');
  writeFileSync(join(dir, 'blobs', 'sha256', hex), buf);
  return { digest: `sha256:${hex}`, size: buf.length };
}

/** Write an OCI layout around already-written layer blobs. */
function writeLayout(dir, layers) {
  writeFileSync(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  const config = {
    created: '2024-01-01T00:00:00Z',
    architecture: 'amd64',
    os: 'linux',
    config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Labels: { 'org.opencontainers.image.title': 'containerspec-bench' } },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    history: layers.map((_, i) => ({ created: '2024-01-01T00:00:00Z', created_by: `bench layer ${i + 1}` })),
  };
  const cfg = writeBlob(dir, Buffer.from(JSON.stringify(config)));
  const manifest = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: cfg.digest, size: cfg.size },
    layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: l.digest, size: l.size })),
  };
  const man = writeBlob(dir, Buffer.from(JSON.stringify(manifest)));
  const index = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [
      {
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        digest: man.digest,
        size: man.size,
        platform: { architecture: 'amd64', os: 'linux' },
        annotations: { 'org.opencontainers.image.ref.name': 'latest' },
      },
    ],
  };
  writeFileSync(join(dir, 'index.json'), JSON.stringify(index, null, 2));
}

/** A cached layout, or null when it must be (re)built. */
function cached(dir) {
  const stampFile = join(dir, 'bench-stamp.json');
  if (!existsSync(stampFile)) return null;
  try {
    const stamp = JSON.parse(readFileSync(stampFile, 'utf8'));
    if (stamp.version !== STAMP_VERSION) return null;
    for (const l of stamp.layers) {
      // blobs are found from the layout directory (the stamp may come from another working directory)
      l.file = join(dir, 'blobs', 'sha256', l.digest.slice('sha256:'.length));
      if (statSync(l.file).size !== l.size) return null;
    }
    return stamp;
  } catch {
    return null;
  }
}

/** Build one layout with `n` layers (in parallel, `jobs` gzip processes at once). */
async function buildLayout(dir, entries, n, jobs) {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
  const parts = n === 1 ? [entries] : splitBySize(entries, n);
  const results = new Array(n);
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      const listFile = join(dir, `list-${i}.txt`);
      writeFileSync(listFile, parts[i].map((e) => e.path).join('\n') + '\n');
      const tmp = join(dir, `layer-${i}.tmp`);
      const t0 = performance.now();
      const { diffId, tarBytes } = await packLayer(listFile, tmp);
      const hex = await sha256File(tmp);
      const file = join(dir, 'blobs', 'sha256', hex);
      renameSync(tmp, file);
      rmSync(listFile);
      const size = statSync(file).size;
      results[i] = { digest: `sha256:${hex}`, size, diffId, tarBytes, file };
      log(`${n}-layer image: layer ${i + 1}/${n}: ${(tarBytes / 1e6).toFixed(0)} MB tar -> ${(size / 1e6).toFixed(0)} MB gzip in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    }
  };
  await Promise.all(Array.from({ length: Math.min(jobs, n) }, worker));
  writeLayout(dir, results);
  const stamp = { version: STAMP_VERSION, layers: results, sources: SOURCE_DIRS, builtAt: new Date().toISOString() };
  writeFileSync(join(dir, 'bench-stamp.json'), JSON.stringify(stamp, null, 2));
  return stamp;
}

/**
 * Ensure both layouts exist under `workDir`; returns { one: {dir, layers}, four: {dir, layers} }
 * where layers are [{ file, size, tarBytes, digest, diffId }].
 */
export async function ensureImages(workDir, { jobs = 2 } = {}) {
  workDir = resolve(workDir);
  mkdirSync(workDir, { recursive: true });
  const out = {};
  let entries = null;
  for (const [key, n] of [['one', 1], ['four', 4]]) {
    const dir = join(workDir, `image-${n}layer`);
    let stamp = cached(dir);
    if (stamp) log(`reusing ${dir} (${n} layer${n > 1 ? 's' : ''}, built ${stamp.builtAt})`);
    else {
      if (!entries) {
        entries = listEntries();
        const bytes = entries.reduce((s, e) => s + e.size, 0);
        log(`packing ${entries.length} entries, ${(bytes / 1e6).toFixed(0)} MB of file data from /${SOURCE_DIRS.join(', /')}`);
      }
      log(`building ${dir} (${n} layer${n > 1 ? 's' : ''}; gzip -6, this takes a minute or two)`);
      stamp = await buildLayout(dir, entries, n, jobs);
    }
    out[key] = { dir, layers: stamp.layers };
  }
  return out;
}

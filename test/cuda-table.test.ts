import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FactsError } from '../src/errors/index.js';
import {
  CUDA_TABLE_ENV,
  cudaCompatibility,
  defaultCudaTablePath,
  loadCudaTable,
  maxCudaForDriver,
  minimumDriverFor,
} from '../src/gpu/cuda-table.js';

const tmp = mkdtempSync(join(tmpdir(), 'cuda-table-'));
function writeTable(name: string, content: unknown): string {
  const file = join(tmp, name);
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}

afterEach(() => {
  delete process.env[CUDA_TABLE_ENV];
});

describe('loadCudaTable', () => {
  it('reads the vendored table inside the project, with its source note', () => {
    const t = loadCudaTable();
    expect(t.file).toBe(defaultCudaTablePath());
    expect(t.file).not.toContain('/work/shared');
    expect(t.source).toMatch(/NVIDIA CUDA Toolkit release notes/);
    expect(t.toolkits.map((r) => r.cuda)).toContain('12.4');
    expect(t.toolkits[0]?.cuda).toBe('8.0');
    expect(t.families.get(12)?.minimumDriver).toBe('525.60.13');
    expect(JSON.parse(readFileSync(t.file, 'utf8'))._source).toBe(t.source);
  });

  it('honours CONTAINERSPEC_CUDA_TABLE, and an explicit file over it', () => {
    const small = writeTable('small.json', { toolkitMinimumDriver: { '12.0': '525.60.13', '12.4': '550.54.14' } });
    process.env[CUDA_TABLE_ENV] = small;
    expect(loadCudaTable().toolkits.map((r) => r.cuda)).toEqual(['12.0', '12.4']);
    expect(maxCudaForDriver('999.1')).toBe('12.4');
    expect(loadCudaTable(defaultCudaTablePath()).toolkits.length).toBeGreaterThan(2);
  });

  it('rejects a bad file with a FactsError naming it', () => {
    const cases: [string, string][] = [
      ['notjson.json', '{ nope'],
      ['array.json', '[]'],
      ['norows.json', JSON.stringify({ toolkitMinimumDriver: {} })],
      ['badkey.json', JSON.stringify({ toolkitMinimumDriver: { twelve: '525.60.13' } })],
      ['baddriver.json', JSON.stringify({ toolkitMinimumDriver: { '12.0': 525 } })],
      ['badfamily.json', JSON.stringify({ toolkitMinimumDriver: { '12.0': '525.60.13' }, minorVersionCompatibility: { '12': {} } })],
    ];
    for (const [name, text] of cases) {
      const file = writeTable(name, text);
      expect(() => loadCudaTable(file), name).toThrow(FactsError);
      expect(() => loadCudaTable(file), name).toThrow(name);
    }
    const missing = join(tmp, 'missing.json');
    expect(() => loadCudaTable(missing)).toThrow(FactsError);
    expect(() => loadCudaTable(missing)).toThrow(/missing\.json.*ENOENT/);
    process.env[CUDA_TABLE_ENV] = missing;
    expect(() => minimumDriverFor('12.4')).toThrow(/missing\.json/);
  });
});

describe('minimumDriverFor', () => {
  it('returns the exact toolkit entry', () => {
    expect(minimumDriverFor('12.4')).toBe('550.54.14');
    expect(minimumDriverFor('11.0')).toBe('450.51.05');
    expect(minimumDriverFor('12.4.1')).toBe('550.54.14');
    expect(minimumDriverFor('12')).toBe('525.60.13');
  });

  it('uses the next lower listed minor of the same major for an unlisted one', () => {
    expect(minimumDriverFor('12.7')).toBe('560.28.03'); // 12.6
    expect(minimumDriverFor('12.10')).toBe('575.51.03'); // 12.9, not 12.1
  });

  it('returns null for a major the table does not cover', () => {
    expect(minimumDriverFor('14.0')).toBeNull();
    expect(minimumDriverFor('7.5')).toBeNull();
  });
});

describe('maxCudaForDriver', () => {
  it('gives the highest toolkit whose minimum driver the host meets', () => {
    expect(maxCudaForDriver('535.54.03')).toBe('12.2');
    expect(maxCudaForDriver('535.104.05')).toBe('12.2');
    expect(maxCudaForDriver('550.54.14')).toBe('12.4');
    expect(maxCudaForDriver('550.54.13')).toBe('12.3');
    expect(maxCudaForDriver('450.51.05')).toBe('11.0');
    expect(maxCudaForDriver('470.82.01')).toBe('11.4');
    expect(maxCudaForDriver('520.61.05')).toBe('11.8');
    expect(maxCudaForDriver('580.65.06')).toBe('13.0');
  });

  it('returns null below every entry and throws on garbage', () => {
    expect(maxCudaForDriver('340.108')).toBeNull();
    expect(() => maxCudaForDriver('n/a')).toThrow(FactsError);
  });
});

describe('cudaCompatibility', () => {
  it('is full when the driver meets the toolkit minimum', () => {
    const r = cudaCompatibility('12.4', '550.54.14');
    expect(r.status).toBe('full');
    expect(r.minimumDriver).toBe('550.54.14');
    expect(r.familyMinimum).toBe('525.60.13');
    expect(cudaCompatibility('11.8', '535.104.05').status).toBe('full');
  });

  it('is minor-version when only the family minimum is met', () => {
    const r = cudaCompatibility('12.4', '535.54.03');
    expect(r.status).toBe('minor-version');
    expect(r.message).toBe(
      'CUDA 12.4 needs an NVIDIA driver >= 550.54.14; this host has 535.54.03 (runs under CUDA minor-version compatibility, PTX JIT unavailable)',
    );
    // 11.8 needs 520.61.05; 470.82.01 meets CUDA 11's family minimum 450.80.02.
    expect(cudaCompatibility('11.8', '470.82.01').status).toBe('minor-version');
  });

  it('is none below the family minimum, and before CUDA 11 has no minor-version compatibility', () => {
    const r = cudaCompatibility('12.4', '470.82.01');
    expect(r.status).toBe('none');
    expect(r.message).toContain('>= 550.54.14');
    expect(r.message).toContain('525.60.13');
    expect(r.message).toContain('470.82.01');
    const old = cudaCompatibility('10.2', '418.87.01');
    expect(old.status).toBe('none');
    expect(old.familyMinimum).toBeNull();
    expect(cudaCompatibility('11.0', '450.60').status).toBe('full'); // above 11.0's own minimum
  });

  it('says which table row it used for an unlisted minor', () => {
    const r = cudaCompatibility('12.7', '560.35.03');
    expect(r.status).toBe('full');
    expect(r.message).toContain('entry for CUDA 12.6');
  });

  it('throws a FactsError for a toolkit newer than the table', () => {
    expect(() => cudaCompatibility('14.0', '600.1')).toThrow(FactsError);
    expect(() => cudaCompatibility('14.0', '600.1')).toThrow(/not in the driver table/);
  });
});

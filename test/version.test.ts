import { describe, expect, it } from 'vitest';
import { FactsError } from '../src/errors/index.js';
import { compareTuples, compareVersions, formatVersion, parseVersion, versionAtLeast } from '../src/util/version.js';

describe('parseVersion', () => {
  it('parses driver, CUDA and glibc versions as integer tuples', () => {
    expect(parseVersion('535.104.05')).toEqual([535, 104, 5]);
    expect(parseVersion('12.4')).toEqual([12, 4]);
    expect(parseVersion('2.31')).toEqual([2, 31]);
    expect(parseVersion('470')).toEqual([470]);
  });

  it('accepts a leading v and surrounding whitespace', () => {
    expect(parseVersion('v12.4.1')).toEqual([12, 4, 1]);
    expect(parseVersion('V2.41')).toEqual([2, 41]);
    expect(parseVersion('  11.8 \n')).toEqual([11, 8]);
  });

  it('ignores trailing non-numeric junk', () => {
    expect(parseVersion('4.1.0rc1')).toEqual([4, 1, 0]);
    expect(parseVersion('4.1.0-rc1')).toEqual([4, 1, 0]);
    expect(parseVersion('2.35+deb12')).toEqual([2, 35]);
    expect(parseVersion('12.')).toEqual([12]);
  });

  it('rejects garbage', () => {
    for (const s of ['', 'garbage', 'v', '.5', 'x12', '-1', '99999999999999999999.1']) {
      expect(parseVersion(s), s).toBeNull();
    }
  });
});

describe('compareVersions', () => {
  it('orders component by component as integers, not as floats or strings', () => {
    expect(compareVersions('535.104.05', '535.54.03')).toBe(1);
    expect(compareVersions('535.54.03', '535.104.05')).toBe(-1);
    expect(compareVersions('2.41', '2.5')).toBe(1);
    expect(compareVersions('2.5', '2.41')).toBe(-1);
    expect(compareVersions('12.10', '12.9')).toBe(1);
  });

  it('treats missing components as 0', () => {
    expect(compareVersions('12.4', '12.4.0')).toBe(0);
    expect(compareVersions('12', '12.0.0')).toBe(0);
    expect(compareVersions('470.82.01', '471')).toBe(-1);
    expect(compareVersions('470.82.01', '470')).toBe(1);
  });

  it('accepts tuples and ignores leading zeros', () => {
    expect(compareVersions([535, 104, 5], '535.104.05')).toBe(0);
    expect(compareTuples([1, 2], [1, 2, 1])).toBe(-1);
  });

  it('throws a FactsError naming a bad version string', () => {
    expect(() => compareVersions('banana', '1.0')).toThrow(FactsError);
    expect(() => compareVersions('banana', '1.0')).toThrow(/banana/);
  });
});

describe('versionAtLeast and formatVersion', () => {
  it('answers a >= b', () => {
    expect(versionAtLeast('550.54.14', '550.54.14')).toBe(true);
    expect(versionAtLeast('2.41', '2.5')).toBe(true);
    expect(versionAtLeast('535.54.03', '535.104.05')).toBe(false);
  });

  it('formats tuples, padding to a minimum length', () => {
    expect(formatVersion([535, 104, 5])).toBe('535.104.5');
    expect(formatVersion([12], 2)).toBe('12.0');
    expect(formatVersion(parseVersion('v11.2.2') ?? [])).toBe('11.2.2');
  });
});

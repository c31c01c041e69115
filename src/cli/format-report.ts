import type { Report } from '../model/report.js';
import type { MatchResult } from '../check/match.js';
import { cell } from '../check/match.js';
import { table } from './output.js';

const ORDER = { fail: 0, unknown: 1, warn: 2, pass: 3 } as const;

/** Human output of a report: one line per check, failures first, each with what to do. */
export function formatReport(r: Report): string {
  const head = `${r.image.name} on ${r.host.name}: ${r.verdict.toUpperCase()}${r.verdict === 'incompatible' ? '' : ` (score ${r.score}/100)`}\n`;
  const checks = [...r.checks].sort((a, b) => ORDER[a.status] - ORDER[b.status]);
  let s = head;
  for (const c of checks) {
    s += `  ${c.status.toUpperCase().padEnd(7)} ${c.id.padEnd(10)} ${c.message}${c.required || c.status === 'pass' ? '' : ' (advisory)'}\n`;
    if (c.fix) s += `  ${''.padEnd(7)} ${''.padEnd(10)} -> ${c.fix}\n`;
  }
  for (const p of r.penalties) s += `  ${`-${p.points}`.padStart(4)} ${p.reason}\n`;
  for (const w of r.warnings) s += `  warning: ${w.message}${w.path ? ` (/${w.path.replace(/^\/+/, '')})` : ''}\n`;
  const set = Object.entries(r.host.overrides);
  if (set.length) s += `  (what-if: ${set.map(([k, v]) => `${k}=${v}`).join(', ')})\n`;
  return s;
}

/** A name shortened from the middle to `max` characters, keeping both ends (registry and tag). */
export function shortenMiddle(s: string, max = 28): string {
  if (s.length <= max) return s;
  const head = Math.ceil((max - 1) / 2);
  return `${s.slice(0, head)}…${s.slice(s.length - (max - 1 - head))}`;
}

/** Human output of a match: the matrix (each cell with the checks that fail or cannot tell), then the best pairs. */
export function formatMatch(m: MatchResult): string {
  const short = (s: string) => shortenMiddle(s);
  const rows: string[][] = [['image \\ host', ...m.hosts.map(short)]];
  m.scores.forEach((row, i) => {
    rows.push([short(m.images[i]!), ...Array.from(row, (raw, h) => {
      const c = cell(raw);
      const why = m.reasons[i]?.[h];
      if (c.verdict === 'incompatible') return `- ${why?.failed.join(',') ?? ''}`.trimEnd();
      return c.verdict === 'unknown' ? `?${c.score} ${why?.unknown.join(',') ?? ''}`.trimEnd() : String(c.score);
    })]);
  });
  let s = table(rows);
  s += '\nbest host for each image:\n';
  s += table(m.bestHostForImage.map((b) => [`  ${b.image}`, b.host ? `${b.host} (${b.verdict === 'unknown' ? '?' : ''}${b.score})` : 'none compatible']));
  s += 'best image for each host:\n';
  s += table(m.bestImageForHost.map((b) => [`  ${b.host}`, b.image ? `${b.image} (${b.verdict === 'unknown' ? '?' : ''}${b.score})` : 'none compatible']));
  s += '(scores 0-100; - incompatible, with the checks that fail; ?N cannot tell, with the checks that cannot: N counts each unknown fact at the worst it could cost short of failing, so the fact known can only score the same or higher)\n';
  return s;
}

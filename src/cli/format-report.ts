import type { Report } from '../model/report.js';
import type { MatchResult } from '../check/match.js';
import { cell } from '../check/match.js';
import { table } from './output.js';

const ORDER = { fail: 0, unknown: 1, warn: 2, pass: 3, 'not-applicable': 4 } as const;
/** The word shown for a status (7 columns). */
const WORD = { fail: 'FAIL', unknown: 'UNKNOWN', warn: 'WARN', pass: 'PASS', 'not-applicable': 'N/A' } as const;

/** How human output is styled: colour for the statuses, and the width to wrap to (none: no wrapping). */
export interface TextStyle {
  color: boolean;
  width: number | null;
}

/** Plain on a pipe; on a terminal, colour (unless NO_COLOR is set, https://no-color.org) and its width. */
export function terminalStyle(stream: { isTTY?: boolean; columns?: number }, env: NodeJS.ProcessEnv = process.env): TextStyle {
  const tty = stream.isTTY === true;
  return { color: tty && !(env.NO_COLOR !== undefined && env.NO_COLOR !== ''), width: tty && stream.columns && stream.columns >= 40 ? stream.columns : null };
}

const COLORS = { pass: 32, warn: 33, unknown: 36, fail: 31, 'not-applicable': 90 } as const;

/** `text` wrapped at `width` (words kept whole), continuation lines indented by `indent` spaces. */
export function wrap(text: string, width: number | null, indent: number): string {
  if (width === null || text.length <= width) return text;
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    const limit = lines.length ? width - indent : width;
    if (line && line.length + 1 + word.length > limit) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  lines.push(line);
  return lines.map((l, i) => (i ? ' '.repeat(indent) + l : l)).join('\n');
}

/** Human output of a report: one line per check, failures first, each with what to do. */
export function formatReport(r: Report, style: TextStyle = { color: false, width: null }): string {
  const head = `${r.image.name} on ${r.host.name}: ${r.verdict.toUpperCase()}${r.verdict === 'incompatible' ? '' : ` (score ${r.score}/100)`}\n`;
  const checks = [...r.checks].sort((a, b) => ORDER[a.status] - ORDER[b.status]);
  let s = head;
  const idWidth = Math.max(10, ...checks.map((c) => (c.id.length <= 24 ? c.id.length : 0)));
  const indent = 2 + 7 + 1 + idWidth + 1;
  for (const c of checks) {
    const word = WORD[c.status].padEnd(7);
    const status = style.color ? `\x1b[${COLORS[c.status]}m${word}\x1b[0m` : word;
    s += `  ${status} ${wrap(`${c.id.padEnd(idWidth)} ${c.message}${c.required || c.status === 'pass' || c.status === 'not-applicable' ? '' : ' (advisory)'}`, style.width === null ? null : style.width - 10, indent)}\n`;
    if (c.fix) s += `${' '.repeat(indent)}${wrap(`-> ${c.fix}`, style.width === null ? null : style.width - indent, indent + 3)}\n`;
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

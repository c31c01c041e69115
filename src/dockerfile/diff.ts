/**
 * A unified diff of two texts, line by line (as `diff -u` prints it), for `dockerfile pin` without
 * `--write`. Lines keep their own line ending (a CRLF file's diff carries the CRs, so `patch`
 * applies it); a last line without one is marked `\ No newline at end of file`. Pure.
 */

/** Split a text into lines, each with its line ending. */
function splitLines(text: string): string[] {
  return text.match(/[^\n]*\n|[^\n]+$/g) ?? [];
}

/** The edit script of two line lists (longest common subsequence; Dockerfiles are small). */
function script(a: string[], b: string[]): ('=' | '-' | '+')[] {
  const n = a.length;
  const m = b.length;
  // Common prefix and suffix first: an edit is usually a few lines in a long file.
  let pre = 0;
  while (pre < n && pre < m && a[pre] === b[pre]) pre++;
  let suf = 0;
  while (suf < n - pre && suf < m - pre && a[n - 1 - suf] === b[m - 1 - suf]) suf++;
  const A = a.slice(pre, n - suf);
  const B = b.slice(pre, m - suf);
  const L: number[][] = Array.from({ length: A.length + 1 }, () => new Array<number>(B.length + 1).fill(0));
  for (let i = A.length - 1; i >= 0; i--) for (let j = B.length - 1; j >= 0; j--) L[i]![j] = A[i] === B[j] ? L[i + 1]![j + 1]! + 1 : Math.max(L[i + 1]![j]!, L[i]![j + 1]!);
  const ops: ('=' | '-' | '+')[] = new Array<'='>(pre).fill('=');
  let i = 0;
  let j = 0;
  while (i < A.length || j < B.length) {
    if (i < A.length && j < B.length && A[i] === B[j]) {
      ops.push('=');
      i++;
      j++;
    } else if (i < A.length && (j === B.length || L[i + 1]![j]! >= L[i]![j + 1]!)) {
      ops.push('-');
      i++;
    } else {
      ops.push('+');
      j++;
    }
  }
  for (let k = 0; k < suf; k++) ops.push('=');
  return ops;
}

/** `diff -u` of `before` and `after`, with `context` lines around each change; '' when they are equal. */
export function unifiedDiff(before: string, after: string, file: string, context = 3): string {
  if (before === after) return '';
  const a = splitLines(before);
  const b = splitLines(after);
  const ops = script(a, b);
  // Positions in a and b of each op.
  const rows: { op: '=' | '-' | '+'; ai: number; bi: number }[] = [];
  let ai = 0;
  let bi = 0;
  for (const op of ops) {
    rows.push({ op, ai, bi });
    if (op !== '+') ai++;
    if (op !== '-') bi++;
  }
  // git's a/ and b/ for a relative path (patch -p1 applies it); an absolute path as it is.
  const [from, to] = file.startsWith('/') ? [file, file] : [`a/${file}`, `b/${file}`];
  const out: string[] = [`--- ${from}\n`, `+++ ${to}\n`];
  let k = 0;
  while (k < rows.length) {
    if (rows[k]!.op === '=') {
      k++;
      continue;
    }
    let start = Math.max(0, k - context);
    let end = k;
    // Extend the hunk while changes are within 2*context lines of each other.
    for (;;) {
      while (end < rows.length && rows[end]!.op !== '=') end++;
      let next = end;
      while (next < rows.length && rows[next]!.op === '=') next++;
      if (next < rows.length && next - end <= 2 * context) end = next;
      else break;
    }
    const stop = Math.min(rows.length, end + context);
    const hunk = rows.slice(start, stop);
    const aLen = hunk.filter((r) => r.op !== '+').length;
    const bLen = hunk.filter((r) => r.op !== '-').length;
    const aStart = hunk[0]!.ai + (aLen ? 1 : 0);
    const bStart = hunk[0]!.bi + (bLen ? 1 : 0);
    out.push(`@@ -${aStart}${aLen === 1 ? '' : `,${aLen}`} +${bStart}${bLen === 1 ? '' : `,${bLen}`} @@\n`);
    for (const r of hunk) {
      const line = r.op === '+' ? b[r.bi]! : a[r.ai]!;
      out.push(`${r.op === '=' ? ' ' : r.op}${line}`);
      if (!line.endsWith('\n')) out.push('\n\\ No newline at end of file\n');
    }
    k = stop;
    start = stop;
  }
  return out.join('');
}

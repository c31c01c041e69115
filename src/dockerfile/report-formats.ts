/**
 * `outdated` results in the formats CI systems read: a GitLab Code Quality report (the Code Climate
 * issue subset GitLab documents: description, check_name, fingerprint, severity, location.path,
 * location.lines.begin), shown in merge requests at each FROM line.
 */
import { createHash } from 'node:crypto';
import { isAbsolute, relative } from 'node:path';
import { describeBase, type OutdatedResult } from './outdated.js';

/** One GitLab Code Quality issue. */
export interface CodeQualityIssue {
  description: string;
  check_name: string;
  fingerprint: string;
  severity: 'info' | 'minor' | 'major' | 'critical' | 'blocker';
  location: { path: string; lines: { begin: number } };
}

/**
 * The outdated bases as a GitLab Code Quality report: a stale pin is `major`, a newer tag `minor`.
 * The fingerprint (what GitLab compares between pipelines) is the file, the image and the finding,
 * not the line, so that an edit above a FROM does not make it a new issue.
 */
export function codeQuality(r: OutdatedResult, opts: { root?: string | undefined } = {}): CodeQualityIssue[] {
  // GitLab wants paths relative to the repository (CI_PROJECT_DIR): an absolute path inside it is made relative.
  const path = (f: string) => {
    if (!opts.root || !isAbsolute(f)) return f;
    const rel = relative(opts.root, f);
    return rel.startsWith('..') || isAbsolute(rel) ? f : rel;
  };
  return r.bases
    .filter((b) => b.outdated)
    .map((b) => {
      const check = b.status === 'stale' ? 'containerspec-stale-base-digest' : 'containerspec-newer-base-tag';
      const finding = b.status === 'stale' ? `${b.pinned}->${b.current}` : b.newer[0] ?? '';
      return {
        description: describeBase(b),
        check_name: check,
        fingerprint: createHash('sha256').update(`${b.file}\0${b.image}\0${check}\0${finding}`).digest('hex'),
        severity: b.status === 'stale' ? 'major' : 'minor',
        location: { path: path(b.file), lines: { begin: b.line } },
      };
    });
}

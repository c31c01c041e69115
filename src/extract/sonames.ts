import type { Extractor } from './types.js';

/**
 * The shared libraries present (sonames, or file names), sorted: what a bind-mounted library's
 * DT_NEEDED can find. Symlinks named like libraries (libfoo.so.1 -> libfoo.so.1.2.3) count too: the
 * loader finds them.
 */
export const sonamesExtractor: Extractor = {
  name: 'sonames',
  kinds: ['image'],
  wants: { elf: true },
  run(input, found) {
    const sonames = new Set<string>();
    const view = input.view;
    for (const [path, e] of view.all()) {
      const elf = e.result?.elf;
      if (elf && elf.type === 'dyn' && /\.so(?:\.|$)/.test(path)) sonames.add(elf.soname ?? path.slice(path.lastIndexOf('/') + 1));
      if (e.meta.type === 'symlink' && /\.so(?:\.\d+)*$/.test(path)) {
        const r = view.resolve(path);
        if (r.ok && r.entry.result?.elf) sonames.add(path.slice(path.lastIndexOf('/') + 1));
      }
    }
    found.sonames = [...sonames].sort();
  },
};

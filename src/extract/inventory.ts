import type { Extractor } from './types.js';

/** How many files and ELF files the view holds (the facts' `stats`), and the view's own warnings (symlink loops). */
export const inventoryExtractor: Extractor = {
  name: 'inventory',
  wants: {},
  run(input, found) {
    let files = 0;
    let elfFiles = 0;
    for (const [, e] of input.view.all()) {
      if (e.meta.type === 'file' || e.meta.type === 'hardlink') files++;
      if (e.result?.elf) elfFiles++;
    }
    found.stats = { files, elfFiles };
    found.warnings.push(...input.view.warnings);
  },
};

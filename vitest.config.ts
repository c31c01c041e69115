import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 300_000,
    // vitest's default is one worker per core but one, which is a single worker on the 2-core CI
    // machine. Most test files wait on servers and child processes (registry, PostgreSQL, Slurm,
    // git, ch-run), so two files at a time fit two cores: the suite took 700 s with one worker and
    // 462 s with two in a fresh clone here. The helpers are made for it: free ports, per-process
    // certificates and temp dirs, a lock around the build.
    maxWorkers: Math.max(2, availableParallelism() - 1),
    reporters: ['default'],
  },
});

/**
 * The rules, in report order. `check` reports every rule that applies; `scorePair` scores the
 * same list. To add a rule, write its module and add it here.
 */
import type { Rule } from '../rule.js';
import { archRule } from './arch.js';
import { bindRule } from './bind.js';
import { gpuRule } from './gpu.js';
import { kernelRule } from './kernel.js';
import { libcRule } from './libc.js';
import { microarchRule } from './microarch.js';
import { mpiRule } from './mpi.js';
import { provenanceRule } from './provenance.js';

/** Every rule, in report order. */
export const RULES: readonly Rule[] = [archRule, microarchRule, kernelRule, libcRule, gpuRule, mpiRule, bindRule, provenanceRule] as readonly Rule[];

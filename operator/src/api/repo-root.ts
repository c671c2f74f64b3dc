import { fileURLToPath } from 'node:url';
import { repoRootAbove } from '../../../core/src/repo-root.js';

/** The repository root, from the sources or from dist/ (generate-crd.ts writes crds/ and schemas/ there). */
export const repoRoot = (): string => repoRootAbove(fileURLToPath(import.meta.url));

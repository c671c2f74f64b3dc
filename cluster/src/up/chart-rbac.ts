/**
 * The operator's permissions as the Helm chart grants them (helm/bij-operator/templates/rbac.yaml): the
 * rules of its (Cluster)Role and of its leader-election Role. `bij up` and the tests run the operator
 * under exactly these, so a rule the chart lacks fails there as it would in a cluster. The template's
 * `rules:` blocks are plain YAML; only the lines holding template actions are dropped to read them.
 */
import type * as k8s from '@kubernetes/client-node';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { repoRoot } from '../go-binary.js';

export interface ChartRbac {
  /** The rules of the ClusterRole (watchNamespace ""), the chart's default. */
  operatorRules: k8s.V1PolicyRule[];
  /** The rules of the Role in the release namespace (the leader-election Lease). */
  leaderRules: k8s.V1PolicyRule[];
}

export function chartRbac(file = path.join(repoRoot(), 'helm', 'bij-operator', 'templates', 'rbac.yaml')): ChartRbac {
  const text = readFileSync(file, 'utf8').split('\n').filter((l) => !l.includes('{{')).join('\n');
  const withRules = parseAllDocuments(text)
    .map((d) => d.toJS() as { metadata?: unknown; rules?: k8s.V1PolicyRule[] } | null)
    .filter((d): d is { rules: k8s.V1PolicyRule[] } => Array.isArray(d?.rules));
  if (withRules.length !== 2) throw new Error(`${file}: expected two roles with rules (the operator's and the leader-election one), found ${withRules.length}`);
  return { operatorRules: withRules[0].rules, leaderRules: withRules[1].rules };
}

/**
 * The operator's permissions as the Helm chart grants them: the rules of its ClusterRole (or Role per
 * watched namespace) and of its leader-election Role. The chart keeps them as plain YAML files,
 * helm/bij-operator/rbac/operator-rules.yaml and rbac/leader-rules.yaml, which templates/rbac.yaml
 * reads (.Files.Get), so `bij up` and the tests run the operator under exactly these rules without
 * rendering the chart: a rule the chart lacks fails there as it would in a cluster. (e2e/helm checks
 * that the real helm renders these same rules into the roles.)
 */
import type * as k8s from '@kubernetes/client-node';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { repoRoot } from '../go-binary.js';

export interface ChartRbac {
  /** The rules of the ClusterRole (watchNamespaces [], the chart's default), or of the Role per watched namespace. */
  operatorRules: k8s.V1PolicyRule[];
  /** The rules of the Role in the Lease's namespace (leader election). */
  leaderRules: k8s.V1PolicyRule[];
}

export const chartDir = (): string => path.join(repoRoot(), 'helm', 'bij-operator');

/** One rules file: a YAML list of rules, each with verbs and resources (or nonResourceURLs). */
export function readRules(file: string): k8s.V1PolicyRule[] {
  const rules: unknown = parse(readFileSync(file, 'utf8'));
  if (!Array.isArray(rules) || rules.length === 0) throw new Error(`${file}: expected a non-empty YAML list of RBAC rules`);
  rules.forEach((r: k8s.V1PolicyRule, i) => {
    if (typeof r !== 'object' || r === null || !Array.isArray(r.verbs) || !(Array.isArray(r.resources) || Array.isArray(r.nonResourceURLs))) {
      throw new Error(`${file}: rule ${i + 1} is not an RBAC rule (verbs and resources): ${JSON.stringify(r)}`);
    }
  });
  return rules as k8s.V1PolicyRule[];
}

export function chartRbac(dir = chartDir()): ChartRbac {
  return {
    operatorRules: readRules(path.join(dir, 'rbac', 'operator-rules.yaml')),
    leaderRules: readRules(path.join(dir, 'rbac', 'leader-rules.yaml')),
  };
}

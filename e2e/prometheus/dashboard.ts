/**
 * The Grafana dashboard (helm/bij-operator/dashboards/batch-inference.json) as data: its panels'
 * queries and variables, and the queries with the variables replaced as Grafana would before sending
 * them to Prometheus. Grafana itself is not used (AGPL): the tests check the JSON and run the queries.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../../cluster/src/go-binary.js';

export const DASHBOARD = path.join(repoRoot(), 'helm', 'bij-operator', 'dashboards', 'batch-inference.json');

export interface Target { refId: string; expr: string; legendFormat?: string; datasource?: { type?: string; uid?: string } }
export interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: { type?: string; uid?: string };
  gridPos: { x: number; y: number; w: number; h: number };
  targets?: Target[];
  panels?: Panel[];
  fieldConfig?: { defaults?: { unit?: string } };
}
export interface Variable {
  name: string;
  type: string;
  query: string | { query: string };
  datasource?: { type?: string; uid?: string };
  includeAll?: boolean;
  multi?: boolean;
  allValue?: string;
}
export interface Dashboard { uid: string; title: string; schemaVersion: number; panels: Panel[]; templating: { list: Variable[] } }

export const loadDashboard = (): Dashboard => JSON.parse(readFileSync(DASHBOARD, 'utf8')) as Dashboard;

/** Every panel, those inside rows included. */
export const allPanels = (d: Dashboard): Panel[] => d.panels.flatMap((p) => [p, ...(p.panels ?? [])]);

/** Panels that query: all but rows (and text). */
export const queryPanels = (d: Dashboard): Panel[] => allPanels(d).filter((p) => p.type !== 'row' && p.type !== 'text');

/** `label_values(<selector>, <label>)`, Grafana's variable query, split into its parts. */
export function labelValuesQuery(v: Variable): { match: string; label: string } {
  const q = typeof v.query === 'string' ? v.query : v.query.query;
  const m = /^label_values\((.+),\s*(\w+)\)$/.exec(q.trim());
  if (!m) throw new Error(`variable ${v.name}: not a label_values(selector, label) query: ${q}`);
  return { match: m[1], label: m[2] };
}

/** Replaces the dashboard's variables and Grafana's built-ins in a query. `vars` holds regex values
 * (what Grafana puts in for a variable used with =~); `$__rate_interval` and `$__interval` become `rateInterval`. */
export function substitute(expr: string, vars: Record<string, string>, rateInterval: string): string {
  return expr
    .replace(/\$__rate_interval|\$\{__rate_interval\}|\$__interval|\$\{__interval\}/g, rateInterval)
    .replace(/\$\{(\w+)\}|\$(\w+)/g, (whole, a?: string, b?: string) => {
      const name = a ?? b!;
      if (!(name in vars)) throw new Error(`query uses $${name}, which the test does not set: ${expr}`);
      return vars[name];
    });
}

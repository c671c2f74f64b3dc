/**
 * The alerting rules (helm/bij-operator/rules/bij-alerts.yaml) checked by the real promtool: `check
 * rules`, and `test rules` with e2e/prometheus/bij-alerts.test.yaml, which must hold for every alert a
 * case where it fires and one where it stays silent. To show those cases bite, each alert is broken
 * twice (never firing, always firing) in a copy of the file, and `promtool test rules` must fail on
 * every copy, naming that alert.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { repoRoot } from '../../cluster/src/go-binary.js';
import { OperatorMetrics } from '../../operator/src/metrics.js';
import { buildPrometheusTools } from './binaries.js';

const ROOT = repoRoot();
const RULES = path.join(ROOT, 'helm', 'bij-operator', 'rules', 'bij-alerts.yaml');
const UNIT_TESTS = path.join(ROOT, 'e2e', 'prometheus', 'bij-alerts.test.yaml');

interface Rule { alert?: string; record?: string; expr: string; for?: string }
interface RuleFile { groups: { name: string; rules: Rule[] }[] }
interface AlertTest { eval_time: string; alertname: string; exp_alerts?: unknown[] }
interface UnitTests { rule_files: string[]; tests: { name: string; input_series: { series: string }[]; alert_rule_test?: AlertTest[] }[] }

let promtool: string;
beforeAll(async () => {
  ({ promtool } = await buildPrometheusTools());
}, 900_000);

function run(args: string[], cwd = ROOT): { code: number | null; out: string } {
  const r = spawnSync(promtool, args, { cwd, encoding: 'utf8', timeout: 60_000 });
  if (r.error) throw r.error;
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

const rules = (): RuleFile => parse(readFileSync(RULES, 'utf8')) as RuleFile;
const alerts = (): Rule[] => rules().groups.flatMap((g) => g.rules).filter((r) => r.alert);

/** Metric names a PromQL expression or series selector reads. */
const metricNames = (expr: string): string[] => [...new Set([...expr.matchAll(/\b(bij_[a-z_]+)\b/g)].map((m) => m[1]))];

test('promtool check rules accepts the rule file: a plain file with top-level groups and five alerts', () => {
  const r = run(['check', 'rules', RULES]);
  expect(r.out).toContain('SUCCESS: 5 rules found');
  expect(r.code).toBe(0);
  expect(Object.keys(rules())).toEqual(['groups']);
  expect(alerts().map((a) => a.alert)).toEqual([
    'BatchInferenceJobFailed', 'BatchInferenceJobNoProgress', 'BatchInferenceJobGPUStarving', 'BatchInferenceJobRetriesClimbing',
    'BatchInferenceJobDrifted',
  ]);
});

test('the rules and their unit tests read only metrics the operator exposes', async () => {
  const exposed = new Set((await new OperatorMetrics().registry.getMetricsAsJSON()).map((m) => m.name));
  const unit = parse(readFileSync(UNIT_TESTS, 'utf8')) as UnitTests;
  const used = [
    ...alerts().flatMap((a) => metricNames(a.expr)),
    ...unit.tests.flatMap((t) => t.input_series.flatMap((s) => metricNames(s.series))),
  ];
  expect(used.length).toBeGreaterThan(5);
  for (const name of used) expect({ name, exposed: exposed.has(name) }).toEqual({ name, exposed: true });
});

test('promtool test rules passes, and every alert has a case where it fires and one where it stays silent', () => {
  const r = run(['test', 'rules', UNIT_TESTS]);
  expect(r.out).toContain('SUCCESS');
  expect(r.code).toBe(0);
  const unit = parse(readFileSync(UNIT_TESTS, 'utf8')) as UnitTests;
  const cases = unit.tests.flatMap((t) => t.alert_rule_test ?? []);
  for (const { alert } of alerts()) {
    const mine = cases.filter((c) => c.alertname === alert);
    expect({ alert, fires: mine.some((c) => (c.exp_alerts ?? []).length > 0) }).toEqual({ alert, fires: true });
    expect({ alert, silent: mine.some((c) => (c.exp_alerts ?? []).length === 0) }).toEqual({ alert, silent: true });
  }
});

describe('a broken alert fails the unit tests', () => {
  const names = alerts().map((a) => a.alert!);
  // never: an expression with no result; always: one series per job the tests know, firing at once.
  const BROKEN = {
    never: 'vector(1) == 0',
    always: 'max by (namespace, name) ({__name__=~"bij_.+"})',
  };
  test.each(names.flatMap((alert) => (['never', 'always'] as const).map((how) => [alert, how] as const)))('%s, %s firing', (alert, how) => {
    const dir = mkdtempSync(path.join(tmpdir(), 'bij-rules-'));
    const broken = rules();
    for (const g of broken.groups) for (const r of g.rules) if (r.alert === alert) r.expr = BROKEN[how];
    writeFileSync(path.join(dir, 'bij-alerts.yaml'), stringify(broken));
    const unit = parse(readFileSync(UNIT_TESTS, 'utf8')) as UnitTests;
    unit.rule_files = ['bij-alerts.yaml'];
    writeFileSync(path.join(dir, 'bij-alerts.test.yaml'), stringify(unit));
    const r = run(['test', 'rules', 'bij-alerts.test.yaml'], dir);
    expect(r.code).toBe(1);
    expect(r.out).toContain('FAILED');
    expect(r.out).toContain(`alertname: ${alert}`);
  });
});

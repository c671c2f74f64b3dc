/**
 * The Argo CD health check and resource actions (helm/bij-operator/argocd/*.lua), run by the real Lua 5.1
 * interpreter on objects with the statuses the reconciler writes in each phase.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import type { Phase } from './status.js';
import { asMap, flatten, luaLiteral, runArgoLua } from '../testing/lua.js';
import { objectInPhase, objectWithoutStatus, withGenerationLag, type ClusterObject } from '../testing/phase-objects.js';
import { repoRoot } from './repo-root.js';

const ARGOCD = join(repoRoot(), 'helm/bij-operator/argocd');
const HEALTH = join(ARGOCD, 'health.lua');
const DISCOVERY = join(ARGOCD, 'actions/discovery.lua');
const action = (name: string) => join(ARGOCD, `actions/${name}/action.lua`);

const health = (o: unknown) => asMap(runArgoLua(HEALTH, o));

describe('health.lua', () => {
  test.each<[Phase, string, RegExp]>([
    ['Pending', 'Progressing', /^Pending: planning run r[0-9a-f]+$/],
    ['Running', 'Progressing', /^Running \(0%\): 0 of 2 shards done, 2 running$/],
    ['Merging', 'Progressing', /^Merging \(100%\): all 2 shards are done; committing$/],
    ['Succeeded', 'Healthy', /^committed 200 rows in 2 shards$/],
    ['Failed', 'Degraded', /^BadInput: .*column f0 is missing/],
    ['Suspended', 'Suspended', /^suspended before planning$/],
  ])('a %s job is %s', (phase, status, message) => {
    const h = health(objectInPhase(phase));
    expect(h.status).toBe(status);
    expect(h.message).toMatch(message);
  });

  test.each<Phase>(['Running', 'Succeeded', 'Failed', 'Suspended'])('a %s job whose spec edit the operator has not observed is Progressing', (phase) => {
    const o = withGenerationLag(objectInPhase(phase));
    expect(health(o)).toEqual({ status: 'Progressing', message: `Waiting for the operator to observe generation ${o.metadata.generation}` });
  });

  test('a job with no status yet is Progressing', () => {
    expect(health(objectWithoutStatus())).toEqual({ status: 'Progressing', message: 'Waiting for the operator to reconcile the job' });
  });

  test('a Failed job without a Failed condition takes status.message', () => {
    const o = objectInPhase('Failed');
    const bare: ClusterObject = { ...o, status: { ...o.status, conditions: [] } };
    expect(health(bare)).toEqual({ status: 'Degraded', message: o.status!.message });
  });

  test('an unknown phase is Unknown', () => {
    const o = objectInPhase('Running');
    expect(health({ ...o, status: { ...o.status, phase: 'Exploded' } }).status).toBe('Unknown');
  });
});

describe('actions', () => {
  const available = (o: ClusterObject) => {
    const m = asMap(runArgoLua(DISCOVERY, o));
    return Object.keys(m).filter((k) => k.endsWith('.disabled') && m[k] === 'false').map((k) => k.split('.')[0]).sort();
  };

  test.each<[Phase, string[]]>([
    ['Pending', ['suspend']],
    ['Running', ['suspend']],
    ['Merging', ['suspend']],
    ['Suspended', ['resume']],
    ['Succeeded', []],
    ['Failed', []],
  ])('a %s job offers %j', (phase, want) => {
    expect(available(objectInPhase(phase))).toEqual(want);
  });

  test('every action has an icon, and is listed disabled when not available', () => {
    const m = asMap(runArgoLua(DISCOVERY, objectInPhase('Running')));
    expect(m).toEqual({ 'suspend.disabled': 'false', 'suspend.iconClass': 'fa fa-fw fa-pause', 'resume.disabled': 'true', 'resume.iconClass': 'fa fa-fw fa-play' });
  });

  test.each<[string, Phase, boolean]>([['suspend', 'Running', true], ['resume', 'Suspended', false]])(
    '%s on a %s job sets spec.suspend and changes nothing else', (name, phase, suspend) => {
      const o = objectInPhase(phase);
      const out = runArgoLua(action(name), o);
      const want = structuredClone(o) as ClusterObject & { spec: Record<string, unknown> };
      want.spec.suspend = suspend;
      expect(out).toEqual(flatten(want));
      expect(out).not.toEqual(flatten(o));
    });
});

test('the README\'s argocd-cm snippet holds exactly these scripts', () => {
  const readme = readFileSync(join(repoRoot(), 'README.md'), 'utf8');
  const block = [...readme.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]).find((b) => b.includes('name: argocd-cm'));
  expect(block).toBeDefined();
  const data = (parse(block!) as { data: Record<string, string> }).data;
  const read = (p: string) => readFileSync(p, 'utf8');
  expect(data['resource.customizations.health.batchinference.dev_BatchInferenceJob']).toBe(read(HEALTH));
  expect(parse(data['resource.customizations.actions.batchinference.dev_BatchInferenceJob'])).toEqual({
    'discovery.lua': read(DISCOVERY),
    definitions: ['suspend', 'resume'].map((name) => ({ name, 'action.lua': read(action(name)) })),
  });
});

describe('the test harness', () => {
  test('a value survives the trip through a Lua table literal', () => {
    const v = { s: 'quote " backslash \\ newline \n tab \t ünï', n: 2.5, i: -3, b: false, a: [1, 'x', { k: true }], o: { e: 'y' } };
    expect(runArgoLua(join(ARGOCD, 'actions/suspend/action.lua'), { spec: {}, v }).filter((l) => l.startsWith('v.'))).toEqual(flatten({ v }));
    expect(luaLiteral({ a: null, b: [1] })).toBe('{["b"] = {1}}');
  });

  test('scripts run in a sandbox without io, os or require, as in Argo CD', () => {
    const probe = join(mkdtempSync(join(tmpdir(), 'bij-lua-')), 'probe.lua');
    writeFileSync(probe, 'return {io = type(io), os = type(os), require = type(require), string = type(string), obj = type(obj)}\n');
    expect(asMap(runArgoLua(probe, {}))).toEqual({ io: 'nil', os: 'nil', require: 'nil', string: 'table', obj: 'table' });
  });
});

/**
 * A real kubectl against `bij up` (the real control plane, the process kubelet, the unmodified
 * operator): what a user types, with no extra flags, run with the oldest and the newest kubectl on the
 * PATH (`kubectl.1.NN` beside `kubectl`). Without a kubectl the suite fails saying so: it never skips.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, realpathSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { startBijUp, type BijUp } from '../support/bij-up-process.js';
import { expectExactlyOnce } from '../support/cluster.js';
import { DATA, writeFixtures } from '../support/operator-process.js';

/** Every kubectl by minor version: `kubectl.1.NN` files on the PATH, or beside the `kubectl` the PATH
 * has (gcloud's layout: PATH holds a link to its dispatcher, the versions sit beside the link's target). */
function kubectls(): { minor: number; bin: string }[] {
  const dirs: string[] = [];
  for (const dir of (process.env.PATH ?? '').split(path.delimiter).filter(Boolean)) {
    dirs.push(dir);
    try {
      dirs.push(path.dirname(realpathSync(path.join(dir, 'kubectl'))));
    } catch {
      /* no kubectl here */
    }
  }
  const found = new Map<number, string>();
  for (const dir of dirs) {
    for (let minor = 20; minor <= 40; minor++) {
      const bin = path.join(dir, `kubectl.1.${minor}`);
      try {
        accessSync(bin, constants.X_OK);
        if (!found.has(minor)) found.set(minor, bin);
      } catch {
        /* not there */
      }
    }
  }
  return [...found.entries()].sort((a, b) => a[0] - b[0]).map(([minor, bin]) => ({ minor, bin }));
}

const all = kubectls();
const oldest = all[0];
const newest = all[all.length - 1];
const CLIENTS = oldest && newest && oldest.minor !== newest.minor ? [oldest, newest] : oldest ? [oldest] : [];

interface Result { code: number; stdout: string; stderr: string }

let up: BijUp;
let root: string;
let data: { model: string; input: string };

function kubectl(bin: string, args: string[], input?: string): Promise<Result> {
  return new Promise((resolve) => {
    const child = execFile(bin, args, {
      env: { ...process.env, KUBECONFIG: up.kubeconfig, HOME: root }, timeout: 120_000, maxBuffer: 16 << 20,
    }, (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }));
    if (input !== undefined) child.stdin!.end(input);
  });
}

async function ok(bin: string, args: string[], input?: string): Promise<string> {
  const r = await kubectl(bin, args, input);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.code}):\n${r.stderr}${r.stdout}`);
  return r.stdout;
}

function job(name: string, spec: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    apiVersion: 'batchinference.dev/v1alpha1',
    kind: 'BatchInferenceJob',
    metadata: { name },
    spec: {
      model: { uri: data.model, version: 'v1', inputs: { X: { columns: ['f0', 'f1', 'f2', 'f3'] } }, outputs: { probs: { column: 'churn_score', select: 1 } } },
      input: { uri: data.input, idColumn: 'id', passthroughColumns: ['region'] },
      output: { uri: path.join(root, 'out', name) + '/' },
      shards: 4, parallelism: 2, batchSize: 512, maxRetries: 2,
      worker: { executionProvider: 'cpu' },
      ...spec,
    },
  };
}

const write = (name: string, doc: unknown): string => {
  const file = path.join(root, `${name}.yaml`);
  writeFileSync(file, stringify(doc));
  return file;
};

beforeAll(async () => {
  if (CLIENTS.length === 0) return;
  root = mkdtempSync(path.join(tmpdir(), 'bij-kubectl-'));
  data = await writeFixtures(root);
  // Workers sleep 300 ms after each batch (worker/src/faults.ts), so a job runs long enough to suspend.
  up = await startBijUp(root, ['--kubeconfig', path.join(root, 'kubeconfig')], { BIJ_FAULT: 'slow-rows:300' });
}, 180_000);

afterAll(async () => {
  const exit = await up?.stop();
  if (exit) expect(exit).toEqual({ code: 0, signal: null });
}, 60_000);

test('a kubectl is on the PATH (kubectl.1.NN beside kubectl)', () => {
  if (CLIENTS.length === 0) throw new Error('no kubectl.1.NN on the PATH: the kubectl suite needs a real kubectl (install one; this suite does not skip)');
  expect(CLIENTS.length).toBeGreaterThanOrEqual(1);
});

describe.each(CLIENTS.length > 0 ? CLIENTS : [{ minor: 0, bin: 'kubectl.missing' }])('kubectl 1.$minor', ({ minor, bin }) => {
  const name = `kc-${minor}`;
  // `get -w` on the job, started before the job exists (a field selector on its name), so it sees
  // every phase: started after the apply, a fast run could already be past Running.
  let watch: ChildProcess | undefined;
  let seen = '';
  afterAll(() => {
    watch?.kill();
  });

  test('the node is Ready, and the CRD answers to its short name', async () => {
    const nodes = await ok(bin, ['get', 'nodes']);
    expect(nodes).toMatch(/^bij-node\s+Ready\s/m);
    expect((await kubectl(bin, ['get', 'bij'])).stderr).not.toMatch(/error/i);
    expect(await ok(bin, ['api-resources', '--api-group=batchinference.dev'])).toMatch(/^batchinferencejobs\s+bij\s+batchinference\.dev\/v1alpha1\s+true\s+BatchInferenceJob/m);
  });

  test('apply: created, unchanged, configured; diff sees a change; an unknown field is refused by name', async () => {
    // -v=6 logs each request to stderr: the watch is open once its request (watch=true) has answered.
    watch = spawn(bin, ['get', 'bij', '-w', '--field-selector', `metadata.name=${name}`, '-v=6'], { env: { ...process.env, KUBECONFIG: up.kubeconfig, HOME: root } });
    let watchErr = '';
    watch.stdout!.on('data', (d: Buffer) => (seen += d.toString()));
    watch.stderr!.on('data', (d: Buffer) => (watchErr += d.toString()));
    const open = /watch=true\S*\s+(status="?)?200 OK/; // klog text (1.27) or structured (1.33)
    for (const deadline = Date.now() + 30_000; !open.test(watchErr) && Date.now() < deadline;) await new Promise((r) => setTimeout(r, 50));
    expect(watchErr).toMatch(open);
    const file = write(name, job(name));
    expect(await ok(bin, ['apply', '-f', file])).toContain(`batchinferencejob.batchinference.dev/${name} created`);
    expect(await ok(bin, ['apply', '-f', file])).toContain(`batchinferencejob.batchinference.dev/${name} unchanged`);
    const changed = write(`${name}-changed`, job(name, { maxRetries: 3 }));
    const diff = await kubectl(bin, ['diff', '-f', changed]);
    expect(diff.code).toBe(1); // 1: differences found
    expect(diff.stdout).toMatch(/-\s+maxRetries: 2\n\+\s+maxRetries: 3/);
    expect(await ok(bin, ['apply', '-f', changed])).toContain(`batchinferencejob.batchinference.dev/${name} configured`);
    expect((await kubectl(bin, ['diff', '-f', changed])).code).toBe(0);

    const bad = job(`${name}-bad`);
    (bad.spec as Record<string, unknown>).shardz = 3;
    const refused = await kubectl(bin, ['apply', '-f', write(`${name}-bad`, bad)]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/unknown field "spec\.shardz"/);
  });

  test('get shows the columns until Succeeded (-w, -o wide), wait, describe with events, logs of a shard', async () => {
    expect(watch).toBeDefined(); // started by the apply test, before the job existed
    try {
      const waited = await ok(bin, ['wait', '--for=jsonpath={.status.phase}=Succeeded', `bij/${name}`, '--timeout=150s']);
      expect(waited).toContain(`batchinferencejob.batchinference.dev/${name} condition met`);
      const deadline = Date.now() + 10_000;
      while (!/\sSucceeded\s/.test(seen) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    } finally {
      watch?.kill();
    }
    const lines = seen.trim().split('\n');
    expect(lines[0]).toMatch(/^NAME\s+PHASE\s+SHARDS\s+PROGRESS\s+ROWS\s+AGE$/);
    expect(lines.some((l) => l.startsWith(name) && /\sRunning\s/.test(l))).toBe(true);
    expect(lines.at(-1)).toMatch(new RegExp(`^${name}\\s+Succeeded\\s+4/4\\s+100%\\s+${DATA.total}\\s`));

    const wide = await ok(bin, ['get', 'bij', name, '-o', 'wide']);
    expect(wide.split('\n')[0]).toMatch(/^NAME\s+PHASE\s+SHARDS\s+PROGRESS\s+ROWS\s+AGE\s+MODEL-BUSY\s+RUN\s+MESSAGE/);

    const described = await ok(bin, ['describe', 'bij', name]);
    expect(described).toMatch(/^Events:/m);
    expect(described).toMatch(/Normal\s+Started\s/);
    expect(described).toMatch(/Normal\s+Committed\s/);

    await expectExactlyOnce(path.join(root, 'out', name), DATA.total);
  }, 200_000);

  test('suspend and resume by patch, logs of a shard Job, delete with cascade', async () => {
    const other = `${name}-s`;
    // 32 batches of 64 rows per shard, one shard at a time: about 40 s in all at 300 ms per batch.
    await ok(bin, ['apply', '-f', write(other, job(other, { parallelism: 1, batchSize: 64 }))]);
    await ok(bin, ['wait', '--for=jsonpath={.status.phase}=Running', `bij/${other}`, '--timeout=60s']);
    const jobs = async () => (await ok(bin, ['get', 'jobs', '-l', `batchinference.dev/job=${other}`, '-o', 'name'])).trim().split('\n').filter(Boolean);
    let shardJob = '';
    for (const deadline = Date.now() + 60_000; !shardJob && Date.now() < deadline; await new Promise((r) => setTimeout(r, 200))) {
      shardJob = (await jobs())[0] ?? '';
    }
    expect(shardJob).toMatch(/^job\.batch\//);
    // The worker's own log lines, through the API server and the kubelet's containerLogs endpoint.
    let logs = '';
    for (const deadline = Date.now() + 30_000; !logs.includes('"msg"') && Date.now() < deadline; await new Promise((r) => setTimeout(r, 300))) {
      logs = (await kubectl(bin, ['logs', shardJob])).stdout;
    }
    expect(logs).toMatch(/"msg"/);

    expect(await ok(bin, ['patch', 'bij', other, '--type=merge', '-p', '{"spec":{"suspend":true}}'])).toContain('patched');
    await ok(bin, ['wait', '--for=jsonpath={.status.phase}=Suspended', `bij/${other}`, '--timeout=60s']);
    expect(await ok(bin, ['patch', 'bij', other, '--type=merge', '-p', '{"spec":{"suspend":false}}'])).toContain('patched');
    await ok(bin, ['wait', '--for=jsonpath={.status.phase}=Running', `bij/${other}`, '--timeout=60s']);
    expect((await jobs()).length).toBeGreaterThan(0);

    expect(await ok(bin, ['delete', 'bij', other, '--cascade=foreground', '--timeout=90s'])).toContain(`"${other}" deleted`);
    expect(await jobs()).toEqual([]);
  }, 200_000);

  test('server-side apply from two managers: conflict, then force', async () => {
    const ssa = `${name}-ssa`;
    const file = write(ssa, job(ssa, { suspend: true }));
    expect(await ok(bin, ['apply', '--server-side', '--field-manager=team-a', '-f', file])).toContain('serverside-applied');
    const theirs = write(`${ssa}-b`, job(ssa, { suspend: true, maxRetries: 5 }));
    const conflict = await kubectl(bin, ['apply', '--server-side', '--field-manager=team-b', '-f', theirs]);
    expect(conflict.code).not.toBe(0);
    expect(conflict.stderr).toMatch(/conflict/i);
    expect(conflict.stderr).toMatch(/\.spec\.maxRetries/);
    expect(conflict.stderr).toContain('team-a');
    expect(await ok(bin, ['apply', '--server-side', '--field-manager=team-b', '--force-conflicts', '-f', theirs])).toContain('serverside-applied');
    const managers = JSON.parse(await ok(bin, ['get', 'bij', ssa, '-o', 'json', '--show-managed-fields'])) as { metadata: { managedFields: { manager: string; fieldsV1: unknown }[] } };
    const b = managers.metadata.managedFields.find((m) => m.manager === 'team-b');
    expect(JSON.stringify(b?.fieldsV1)).toContain('f:maxRetries');
    await ok(bin, ['delete', 'bij', ssa]);
  });

  test('explain, and auth can-i for the admin and the operator', async () => {
    const explained = await ok(bin, ['explain', 'bij.spec.input']);
    expect(explained).toMatch(/idColumn/);
    expect(explained).toMatch(/KIND:\s+BatchInferenceJob/);
    expect((await ok(bin, ['auth', 'can-i', 'create', 'batchinferencejobs.batchinference.dev'])).trim()).toBe('yes');
    const op = 'system:serviceaccount:bij-system:bij-operator';
    expect((await ok(bin, ['auth', 'can-i', 'create', 'jobs.batch', `--as=${op}`])).trim()).toBe('yes');
    // Its schedules create jobs and delete those past their history limits; the schedules themselves are the users'.
    expect((await ok(bin, ['auth', 'can-i', 'delete', 'batchinferencejobs.batchinference.dev', `--as=${op}`])).trim()).toBe('yes');
    const no = await kubectl(bin, ['auth', 'can-i', 'delete', 'batchinferenceschedules.batchinference.dev', `--as=${op}`]);
    expect(no.stdout.trim()).toBe('no');
  });
});

/**
 * GPU device check: assembles, on a machine with the npm registry, the bundle the GPU machine runs
 * (it has no Node.js and no registry), compresses it and splits it into parts that each fit one device
 * call's carry limit. Nothing goes into the repository or its lock file: downloads and the bundle live
 * under --work (default /tmp/bij-device-bundle); the repository gets only the ignored link
 * `.gpu-bundle` -> WORK/parts, so that the device tool can carry `.gpu-bundle/part-NN`.
 *
 *   npm run build --silent && node dist/e2e/bench/device/assemble.js [--work DIR] [--xz-level 9]
 *
 * The bundle (WORK/stage; tar | xz in chunks, concatenated and split into WORK/parts/part-NN, with
 * parts.sha256; run.sh unpacks them with `cat parts | xz -dc | tar -x --ignore-zeros`):
 *   node                  the project's pinned Node (node_modules/node, Node 24)
 *   package.json          {"type": "module"}
 *   dist/                 the worker's production build (tsconfig.worker.json: worker/src/main.ts and what
 *                         it reaches), plus the bench and this folder's scripts (device/tsconfig.json)
 *   node_modules/         the project's production dependencies at its lock file's versions, with
 *                         onnxruntime-node replaced by ORT_VERSION (versions.ts; Linux x64 binaries only)
 *                         and the CUDA provider files from CUDA_PROVIDER_PACKAGE beside its native library
 *   device/               run.sh, anchor.py, versions.json
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, cpSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { CUDA_PROVIDER_FILES, CUDA_PROVIDER_PACKAGE, CUDA_PROVIDER_SHA256, CUDA_PROVIDER_VERSION, CUDA_MAJOR, CUDNN_MAJOR, ORT_VERSION } from './versions.js';

const here = dirname(fileURLToPath(import.meta.url));
/** dist/e2e/bench/device -> the repository root */
const REPO = resolve(here, '..', '..', '..', '..');
const MiB = 1024 * 1024;
/** What one device call may carry: the working tree plus the carried paths. */
const CALL_LIMIT = 64 * MiB;

const sh = (cmd: string, args: string[], cwd?: string, env?: NodeJS.ProcessEnv): string =>
  execFileSync(cmd, args, { cwd, env: env ?? process.env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 256 * MiB });
const sha256File = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');
const mib = (bytes: number): string => `${(bytes / MiB).toFixed(1)} MiB`;

function duBytes(path: string): number {
  const st = lstatSync(path);
  if (!st.isDirectory()) return st.size;
  return readdirSync(path).reduce((s, f) => s + duBytes(join(path, f)), 0);
}

/** Bytes of what a device call sends besides the carried paths: tracked and untracked-not-ignored files. */
function workingTreeBytes(): number {
  const files = sh('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], REPO).split('\0').filter(Boolean);
  return files.reduce((s, f) => {
    const p = join(REPO, f);
    return s + (existsSync(p) ? lstatSync(p).size : 0);
  }, 0);
}

/** `npm pack` into the cache, once. */
function fetchPackage(cache: string, spec: string, file: string): string {
  const path = join(cache, file);
  if (!existsSync(path)) {
    console.log(`fetching ${spec}`);
    sh('npm', ['pack', spec, '--pack-destination', cache, '--silent'], cache);
  }
  return path;
}

function main(): void {
  const { values } = parseArgs({
    options: { work: { type: 'string', default: '/tmp/bij-device-bundle' }, 'xz-level': { type: 'string', default: '9' }, 'part-mib': { type: 'string' } },
  });
  const t0 = performance.now();
  const work = resolve(values.work);
  const cache = join(work, 'cache');
  const stage = join(work, 'stage');
  const deps = join(work, 'deps');
  const parts = join(work, 'parts');
  mkdirSync(cache, { recursive: true });
  rmSync(stage, { recursive: true, force: true });
  rmSync(parts, { recursive: true, force: true });
  mkdirSync(stage, { recursive: true });
  mkdirSync(parts, { recursive: true });

  // 1. Node: the project's pinned Node 24.
  const node = join(REPO, 'node_modules', 'node', 'bin', 'node');
  const nodeVersion = sh(node, ['--version']).trim();
  if (!nodeVersion.startsWith('v24.')) throw new Error(`${node} is ${nodeVersion}, not Node 24: run npm ci first`);
  copyFileSync(node, join(stage, 'node'));
  chmodSync(join(stage, 'node'), 0o755);

  // 2. The worker's production build, then the bench and the device scripts, into one dist/.
  const tsc = join(REPO, 'node_modules', 'typescript', 'bin', 'tsc');
  sh(process.execPath, [tsc, '-p', join(REPO, 'tsconfig.worker.json'), '--outDir', join(stage, 'dist')], REPO);
  sh(process.execPath, [tsc, '-p', join(REPO, 'e2e', 'bench', 'device', 'tsconfig.json'), '--outDir', join(stage, 'dist')], REPO);
  writeFileSync(join(stage, 'package.json'), JSON.stringify({ name: 'bij-device-bundle', private: true, type: 'module' }, null, 2) + '\n');

  // 3. Production dependencies at the lock file's versions where it has them, onnxruntime-node at ORT_VERSION, in a
  //    folder of their own: the project's package.json and lock file are not touched.
  rmSync(deps, { recursive: true, force: true });
  mkdirSync(deps, { recursive: true });
  for (const f of ['package.json', 'package-lock.json', '.npmrc']) copyFileSync(join(REPO, f), join(deps, f));
  const pkg = JSON.parse(readFileSync(join(deps, 'package.json'), 'utf8')) as {
    dependencies: Record<string, string>; devDependencies?: unknown; scripts?: unknown; workspaces?: unknown;
  };
  // One flat install: the workspaces' production dependencies (core and the worker, and the operator's
  // for the planner the bench and compare.ts run), with no workspace links.
  const depsOf = (w: string) => (JSON.parse(readFileSync(join(REPO, w, 'package.json'), 'utf8')) as { dependencies: Record<string, string> }).dependencies;
  pkg.dependencies = { ...depsOf('core'), ...depsOf('operator'), ...depsOf('worker'), 'onnxruntime-node': ORT_VERSION };
  delete pkg.devDependencies;
  delete pkg.scripts;
  delete pkg.workspaces;
  writeFileSync(join(deps, 'package.json'), JSON.stringify(pkg, null, 2));
  console.log(`installing production dependencies with onnxruntime-node ${ORT_VERSION} in ${deps}`);
  sh('npm', ['install', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'], deps,
    { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip', npm_config_onnxruntime_node_install: 'skip' });
  const ortDir = join(deps, 'node_modules', 'onnxruntime-node');
  const ortPkg = JSON.parse(readFileSync(join(ortDir, 'package.json'), 'utf8')) as { version: string };
  if (ortPkg.version !== ORT_VERSION) throw new Error(`npm installed onnxruntime-node ${ortPkg.version}, not ${ORT_VERSION}`);
  cpSync(join(deps, 'node_modules'), join(stage, 'node_modules'), { recursive: true, verbatimSymlinks: true });
  // onnxruntime-node ships every platform's binaries: keep Linux x64's.
  const napi = join(stage, 'node_modules', 'onnxruntime-node', 'bin', 'napi-v6');
  for (const os of readdirSync(napi)) {
    for (const arch of readdirSync(join(napi, os))) if (!(os === 'linux' && arch === 'x64')) rmSync(join(napi, os, arch), { recursive: true });
  }
  const nativeDir = join(napi, 'linux', 'x64');

  // 4. The CUDA provider files beside libonnxruntime.so.1, checked against their pinned sha256.
  const providerTgz = fetchPackage(cache, `${CUDA_PROVIDER_PACKAGE}@${CUDA_PROVIDER_VERSION}`, `${CUDA_PROVIDER_PACKAGE}-${CUDA_PROVIDER_VERSION}.tgz`);
  const unpack = join(work, 'provider');
  rmSync(unpack, { recursive: true, force: true });
  mkdirSync(unpack);
  sh('tar', ['-xzf', providerTgz, '-C', unpack, ...CUDA_PROVIDER_FILES.map((f) => `package/${f}`)]);
  for (const f of CUDA_PROVIDER_FILES) {
    const name = f.split('/').pop()!;
    const src = join(unpack, 'package', f);
    const sum = sha256File(src);
    if (sum !== CUDA_PROVIDER_SHA256[name]) throw new Error(`${name} from ${CUDA_PROVIDER_PACKAGE}@${CUDA_PROVIDER_VERSION} has sha256 ${sum}, expected ${CUDA_PROVIDER_SHA256[name]}`);
    copyFileSync(src, join(nativeDir, name));
  }

  // 5. The scripts the device runs, and what the bundle holds.
  mkdirSync(join(stage, 'device'));
  for (const f of ['run.sh', 'anchor.py']) copyFileSync(join(REPO, 'e2e', 'bench', 'device', f), join(stage, 'device', f));
  let commit = 'unknown';
  try {
    commit = sh('git', ['rev-parse', 'HEAD'], REPO).trim() + (sh('git', ['status', '--porcelain'], REPO).trim() ? ' (with uncommitted changes)' : '');
  } catch { /* not a git checkout */ }
  const versions = {
    commit, node: nodeVersion, onnxruntimeNode: ORT_VERSION, cudaProvider: `${CUDA_PROVIDER_PACKAGE}@${CUDA_PROVIDER_VERSION}`,
    cudaMajor: CUDA_MAJOR, cudnnMajor: CUDNN_MAJOR, assembled: new Date().toISOString(),
  };
  writeFileSync(join(stage, 'device', 'versions.json'), JSON.stringify(versions, null, 2) + '\n');
  const sizes = {
    node: statSync(join(stage, 'node')).size,
    dist: duBytes(join(stage, 'dist')),
    nodeModulesWithoutOrt: duBytes(join(stage, 'node_modules')) - duBytes(join(stage, 'node_modules', 'onnxruntime-node')),
    onnxruntime: duBytes(join(stage, 'node_modules', 'onnxruntime-node')) - statSync(join(nativeDir, 'libonnxruntime_providers_cuda.so')).size,
    cudaProvider: statSync(join(nativeDir, 'libonnxruntime_providers_cuda.so')).size,
  };
  const total = duBytes(stage);
  console.log(`bundle ${mib(total)} unpacked: node ${mib(sizes.node)}, dist ${mib(sizes.dist)}, node_modules without onnxruntime-node ${mib(sizes.nodeModulesWithoutOrt)}, `
    + `onnxruntime-node ${mib(sizes.onnxruntime)}, CUDA provider ${mib(sizes.cudaProvider)}`);

  // 6. tar | xz, in chunks: what rarely changes (Node, the CUDA provider, onnxruntime-node, the other
  //    dependencies) is compressed once and kept in WORK/cache/xz by the hash of its contents (xz -9 of
  //    the provider takes minutes on a busy machine); dist/ and device/ each time. Concatenated xz streams
  //    are one valid xz stream, and `tar -x --ignore-zeros` reads concatenated tar archives.
  const ortRel = 'node_modules/onnxruntime-node';
  const providerRel = relative(stage, join(nativeDir, 'libonnxruntime_providers_cuda.so'));
  const chunks: { name: string; paths: string[]; exclude?: string[]; cache: boolean }[] = [
    { name: 'node', paths: ['node'], cache: true },
    { name: 'cuda-provider', paths: [providerRel], cache: true },
    { name: 'onnxruntime-node', paths: [ortRel], exclude: [providerRel], cache: true },
    { name: 'node-modules', paths: ['node_modules'], exclude: [ortRel], cache: true },
    { name: 'app', paths: ['package.json', 'dist', 'device'], cache: false },
  ];
  const xzCache = join(cache, 'xz');
  mkdirSync(xzCache, { recursive: true });
  const level = values['xz-level'];
  const files: string[] = [];
  for (const c of chunks) {
    const excludes = (c.exclude ?? []).flatMap((e) => ['--exclude', `./${e}`]);
    const list = sh('bash', ['-c', `cd "${stage}" && find ${c.paths.map((p) => `"./${p}"`).join(' ')} -type f ${(c.exclude ?? []).map((e) => `-not -path "./${e}" -not -path "./${e}/*"`).join(' ')} | LC_ALL=C sort`]).split('\n').filter(Boolean);
    const h = createHash('sha256').update(`xz-${level}\n`);
    for (const f of list) h.update(f + '\0').update(readFileSync(join(stage, f)));
    const key = h.digest('hex').slice(0, 16);
    const file = join(xzCache, `${c.name}-${key}.tar.xz`);
    if (!c.cache || !existsSync(file)) {
      const t = performance.now();
      sh('bash', ['-c', `set -o pipefail; tar -C "${stage}" ${excludes.join(' ')} -cf - ${c.paths.map((p) => `"./${p}"`).join(' ')} | xz -${level} -T1 -c > "${file}.tmp" && mv "${file}.tmp" "${file}"`]);
      console.log(`  ${c.name}: ${list.length} files, xz -${level} ${mib(statSync(file).size)} in ${((performance.now() - t) / 1000).toFixed(0)} s`);
    } else {
      console.log(`  ${c.name}: ${mib(statSync(file).size)} (cached, ${file})`);
    }
    files.push(file);
  }
  const tree = workingTreeBytes();
  const partBytes = values['part-mib'] ? Number(values['part-mib']) * MiB : Math.floor((CALL_LIMIT - tree - 1 * MiB) / MiB) * MiB;
  const archive = join(work, 'bundle.tar.xz');
  sh('bash', ['-c', `cat ${files.map((f) => `"${f}"`).join(' ')} > "${archive}"`]);
  console.log(`bundle.tar.xz ${mib(statSync(archive).size)}; working tree ${mib(tree)}, so parts of ${mib(partBytes)}`);
  sh('split', ['-b', String(partBytes), '-d', '-a', '2', archive, join(parts, 'part-')]);
  const names = readdirSync(parts).filter((f) => f.startsWith('part-')).sort();
  writeFileSync(join(parts, 'parts.sha256'), names.map((f) => `${sha256File(join(parts, f))}  ${f}`).join('\n') + '\n');
  rmSync(archive);
  // The link the device tool carries through (the parts stay under WORK, outside the repository).
  const link = join(REPO, '.gpu-bundle');
  if (existsSync(link) || lstatSync(link, { throwIfNoEntry: false })) unlinkSync(link);
  symlinkSync(parts, link);
  const seconds = (performance.now() - t0) / 1000;
  console.log(`\n${names.length} parts in ${parts} (linked as ${relative(process.cwd(), link) || link}), ${seconds.toFixed(0)} s:`);
  for (const f of names) console.log(`  ${f}  ${mib(statSync(join(parts, f)).size)}`);
  console.log(`\nDevice calls: ${names.length}, one per part, back to back (the machine keeps ignored files only while warm):`);
  names.forEach((f, i) => {
    const last = i === names.length - 1;
    console.log(`  ${i + 1}. carry [".gpu-bundle/parts.sha256", ".gpu-bundle/${f}"]  command: bash e2e/bench/device/run.sh${last ? '   (runs the check: timeout_s 600)' : '   (stores the part)'}`);
  });
}

main();

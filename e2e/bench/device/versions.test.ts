/**
 * The GPU image (Dockerfile.worker) and the GPU device check (this folder) run the same ONNX Runtime
 * release, CUDA provider and CUDA major (versions.ts); the provider is checked by its sha256 in both.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  CUDA_IMAGE, CUDA_MAJOR, CUDA_PROVIDER_PACKAGE, CUDA_PROVIDER_SHA256, CUDA_PROVIDER_VERSION, CUDNN_MAJOR, DEV_ORT_VERSION, ORT_VERSION,
} from './versions.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..', '..');
const dockerfile = readFileSync(join(root, 'Dockerfile.worker'), 'utf8');
const args = Object.fromEntries([...dockerfile.matchAll(/^ARG (\w+)=(\S+)$/gm)].map((m) => [m[1], m[2]]));

describe('Dockerfile.worker and the GPU device check name the same versions', () => {
  test('onnxruntime-node and the CUDA provider built for that release', () => {
    expect(args.ORT_VERSION).toBe(ORT_VERSION);
    expect(args.ORT_CUDA_PROVIDER).toBe(`${CUDA_PROVIDER_PACKAGE}@${CUDA_PROVIDER_VERSION}`);
    expect(args.ORT_CUDA_PROVIDER_SHA256).toBe(CUDA_PROVIDER_SHA256['libonnxruntime_providers_cuda.so']);
    expect(args.ORT_PROVIDERS_SHARED_SHA256).toBe(CUDA_PROVIDER_SHA256['libonnxruntime_providers_shared.so']);
    // The deps stage installs that release, and the provider files beside its Linux x64 library.
    expect(dockerfile).toContain('npm pkg set -w worker "dependencies.onnxruntime-node=${ORT_VERSION}"');
    expect(dockerfile).toContain('npm pack "${ORT_CUDA_PROVIDER}"');
    expect(dockerfile).toMatch(/ORT_CUDA_PROVIDER_SHA256}" libonnxruntime_providers_cuda\.so/);
  });

  test('a CUDA + cuDNN base image of the provider\'s CUDA major', () => {
    expect(args.CUDA_IMAGE).toBe(CUDA_IMAGE);
    const tag = /^nvidia\/cuda:(\d+)\.\d+\.\d+-cudnn-runtime-ubuntu\d+\.\d+$/.exec(args.CUDA_IMAGE);
    expect(tag).not.toBeNull();
    expect(Number(tag![1])).toBe(CUDA_MAJOR);
    expect(dockerfile).toMatch(/^FROM \$\{CUDA_IMAGE\}$/m);
    expect(dockerfile).toContain(`CUDA ${CUDA_MAJOR} + cuDNN ${CUDNN_MAJOR}`);
  });

  test('the lock file\'s onnxruntime-node is the one versions.ts records', () => {
    const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, { version: string }> };
    expect(lock.packages['node_modules/onnxruntime-node'].version).toBe(DEV_ORT_VERSION);
  });

  test('the device check needs the CUDA libraries of that major', () => {
    const run = readFileSync(join(here, 'run.sh'), 'utf8');
    expect(run).toContain(`libcudart.so.${CUDA_MAJOR}`);
    expect(run).toContain(`libcublasLt.so.${CUDA_MAJOR}`);
    expect(run).toContain(`libcudnn.so.${CUDNN_MAJOR}`);
  });
});

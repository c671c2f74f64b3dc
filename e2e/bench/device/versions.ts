/**
 * The ONNX Runtime and CUDA versions the GPU worker image (Dockerfile.worker) and the GPU device check
 * (this folder) both use. A test (versions.test.ts) checks that Dockerfile.worker names the same ones.
 *
 * Why 1.29.0 and CUDA 13: a CUDA execution provider must come from the same ONNX Runtime release as
 * the runtime that loads it, and the only CUDA build the npm registry serves for Linux x64 is
 * com.github.asus4.onnxruntime.linux-x64-gpu@0.4.9: ONNX Runtime 1.29.0's CUDA and TensorRT providers,
 * built for CUDA 13 and cuDNN 9 (it needs libcublasLt.so.13, libcublas.so.13, libcurand.so.10,
 * libcudart.so.13 and the driver's libcuda.so.1). onnxruntime-node 1.30's own installer fetches a CUDA 12
 * provider from NuGet, which neither this project's build machines nor the GPU machine reach, and the GPU
 * machine has CUDA 13 libraries only. The development dependency stays onnxruntime-node 1.30 (package.json):
 * 1.29.0's binding aborts a jest worker that loads it in a second test file (Node's
 * napi_add_env_cleanup_hook assertion), though every worker session, tensor and modelgen test passes on
 * 1.29.0 file by file.
 */
export const ORT_VERSION = '1.29.0';
export const CUDA_PROVIDER_PACKAGE = 'com.github.asus4.onnxruntime.linux-x64-gpu';
export const CUDA_PROVIDER_VERSION = '0.4.9';
/** In the provider package: the files that go beside onnxruntime-node's libonnxruntime.so.1. */
export const CUDA_PROVIDER_FILES = ['Plugins/Linux/x64/libonnxruntime_providers_cuda.so', 'Plugins/Linux/x64/libonnxruntime_providers_shared.so'];
/** sha256 of each of those files, checked by the assembler and by the image build. */
export const CUDA_PROVIDER_SHA256: Record<string, string> = {
  'libonnxruntime_providers_cuda.so': '56cf3254b118ad837ccc4ed8f6d1b23504bbf7ef91b34cbc0b289cb7f10b3037',
  'libonnxruntime_providers_shared.so': 'c6a12593396095f5670160e284c35d1700b7708cf3037b7042e2a5200ccae772',
};
/** The base image of Dockerfile.worker: CUDA_MAJOR with cuDNN (the `cudnn` tags carry cuDNN 9). */
export const CUDA_IMAGE = 'nvidia/cuda:13.0.2-cudnn-runtime-ubuntu24.04';
/** onnxruntime-node in package-lock.json (development and tests, CPU). versions.test.ts fails when the lock
 * file moves, so that whoever updates onnxruntime-node looks for a CUDA provider of that release too. */
export const DEV_ORT_VERSION = '1.30.0';
export const CUDA_MAJOR = 13;
export const CUDNN_MAJOR = 9;

/**
 * Out-of-memory errors from onnxruntime, recognised in one place: by their messages, which is all
 * that crosses from the native runtime (and from the inference thread). The CPU allocator, the CUDA
 * allocator (BFC arena), cuBLAS, cuDNN and the CUDA runtime each word it their own way.
 */
const OUT_OF_MEMORY = [
  /Failed to allocate memory/i,
  /\bout of memory\b/i,
  /CUBLAS_STATUS_ALLOC_FAILED/,
  /CUDNN_STATUS_ALLOC_FAILED/,
  /cudaErrorMemoryAllocation/,
  /CUDA_ERROR_OUT_OF_MEMORY/,
  /\bbad_alloc\b/,
  /BFCArena.*(Available memory|allocat)/i,
];

/** An error's message; errors from the native binding may come from another realm (not `instanceof Error`). */
const messageOf = (e: unknown): string =>
  typeof e === 'object' && e !== null && 'message' in e ? String((e as { message: unknown }).message) : String(e);

/** The runtime ran out of memory (of the GPU's or the host's) for this run: a smaller batch may fit. */
export function isOutOfMemory(e: unknown): boolean {
  const message = messageOf(e);
  return OUT_OF_MEMORY.some((re) => re.test(message));
}

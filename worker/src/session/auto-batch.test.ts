import { AUTO_BATCH_START, afterOom, afterTiming, oomBackoff, retrySmallerOnOom, startAutoBatch, type AutoBatchOptions, type AutoBatchState } from './auto-batch.js';
import { isOutOfMemory } from './out-of-memory.js';

/** An event fed to the policy: a measurement (rows in runs of `size`, taking `ms`) or an out-of-memory error at `oom` rows. */
type Event = { size: number; rows: number; ms: number } | { oom: number };

function drive(o: AutoBatchOptions, events: readonly Event[]): AutoBatchState {
  let s = startAutoBatch(o);
  for (const e of events) s = 'oom' in e ? afterOom(s, e.oom) : afterTiming(s, e);
  return s;
}

/** One measurement per size at a given throughput (rows per ms), long enough to count (100 ms). */
const at = (size: number, rowsPerMs: number): Event => ({ size, rows: rowsPerMs * 100, ms: 100 });

describe('the automatic batch size policy (pure: figures in, state out)', () => {
  test.each<[string, AutoBatchOptions, Event[], { size: number; settled: boolean; max: number; oom?: number[] }]>([
    ['starts small', { max: 65536 }, [], { size: AUTO_BATCH_START, settled: false, max: 65536 }],
    ['starts at max when max is smaller', { max: 8 }, [], { size: 8, settled: true, max: 8 }],
    ['a fixed batch dimension: exactly that, untuned', { max: 65536, fixedBatch: 16 }, [at(16, 1), at(16, 2)], { size: 16, settled: true, max: 16 }],
    ['doubles while throughput rises', { max: 65536 }, [at(32, 10), at(64, 20), at(128, 30)], { size: 256, settled: false, max: 65536 }],
    ['one size that does not beat the best: tries one more', { max: 65536 }, [at(32, 10), at(64, 20), at(128, 30), at(256, 30.5)], { size: 512, settled: false, max: 65536 }],
    ['settles on the best size once throughput stops rising (two sizes in a row)', { max: 65536 }, [at(32, 10), at(64, 20), at(128, 30), at(256, 30.5), at(512, 29)], { size: 128, settled: true, max: 65536 }],
    ['settles on the best size when throughput falls', { max: 65536 }, [at(32, 10), at(64, 20), at(128, 12), at(256, 11)], { size: 64, settled: true, max: 65536 }],
    ['one dip in a noisy measurement does not end the search', { max: 65536 }, [at(32, 10), at(64, 20), at(128, 12), at(256, 40), at(512, 41), at(1024, 39)], { size: 256, settled: true, max: 65536 }],
    ['with patience 0 the first miss settles it', { max: 65536, patience: 0 }, [at(32, 10), at(64, 20), at(128, 12)], { size: 64, settled: true, max: 65536 }],
    ['a gain within the margin (5%) is not worth a doubling', { max: 65536 }, [at(32, 100), at(64, 104), at(128, 104.9)], { size: 32, settled: true, max: 65536 }],
    ['a miss at max settles it at once', { max: 64 }, [at(32, 100), at(64, 90)], { size: 32, settled: true, max: 64 }],
    ['never grows past max, and settles there', { max: 100 }, [at(32, 1), at(64, 2), at(100, 3)], { size: 100, settled: true, max: 100 }],
    ['a measurement at another size does not count', { max: 65536 }, [at(32, 10), at(32, 50), at(64, 20)], { size: 128, settled: false, max: 65536 }],
    ['short runs (a row group tail) say nothing about the size tried', { max: 65536 }, [{ size: 20, rows: 20, ms: 500 }], { size: 32, settled: false, max: 65536 }],
    ['measures each size over at least sampleMs', { max: 65536 }, [{ size: 32, rows: 320, ms: 50 }], { size: 32, settled: false, max: 65536 }],
    ['... summing measurements until then', { max: 65536 }, [{ size: 32, rows: 320, ms: 50 }, { size: 32, rows: 320, ms: 50 }], { size: 64, settled: false, max: 65536 }],
    ['out of memory: half the size, never that size again, no more growth', { max: 65536 }, [at(32, 10), at(64, 20), { oom: 128 }], { size: 64, settled: true, max: 127, oom: [128] }],
    ['out of memory after settling: backs off again', { max: 65536 }, [at(32, 10), at(64, 9), at(128, 9), { oom: 32 }], { size: 16, settled: true, max: 31, oom: [32] }],
    ['out of memory twice: halves twice', { max: 65536 }, [{ oom: 32 }, { oom: 16 }], { size: 8, settled: true, max: 15, oom: [32, 16] }],
    ['out of memory at one row: the floor is one', { max: 65536 }, [{ oom: 2 }, { oom: 1 }], { size: 1, settled: true, max: 1, oom: [2, 1] }],
    ['a measurement after out of memory changes nothing', { max: 65536 }, [{ oom: 32 }, at(16, 1000)], { size: 16, settled: true, max: 31, oom: [32] }],
  ])('%s', (_name, o, events, expected) => {
    const s = drive(o, events);
    expect({ size: s.size, settled: s.settled, max: s.max, oom: [...s.oom] }).toEqual({ oom: [], ...expected });
    expect(s.size).toBeGreaterThanOrEqual(1);
    expect(s.size).toBeLessThanOrEqual(s.max);
  });

  test('from a GPU-like curve it grows until memory runs out, then keeps the largest size that fit', () => {
    // Throughput keeps rising with the batch (each doubling still gains more than 5% up to 8192 rows),
    // but 8192 rows do not fit.
    const curve = (size: number) => 50 * size / (size + 256);
    let s = startAutoBatch({ max: 65536 });
    const tried: number[] = [];
    for (let i = 0; i < 20 && !s.settled; i++) {
      tried.push(s.size);
      s = s.size >= 8192 ? afterOom(s, s.size) : afterTiming(s, at(s.size, curve(s.size)) as { size: number; rows: number; ms: number });
    }
    expect(tried).toEqual([32, 64, 128, 256, 512, 1024, 2048, 4096, 8192]);
    expect(s.settled).toBe(true);
    expect(s.size).toBe(4096);
    expect(s.max).toBe(8191);
    expect(s.oom).toEqual([8192]);
    expect(s.best?.size).toBe(4096);
  });

  test('a bad max is refused', () => {
    expect(() => startAutoBatch({ max: 0 })).toThrow('auto batch size: max must be a positive integer, not 0');
  });

  test.each([[4096, 2048], [3, 1], [2, 1], [1, undefined]])('oomBackoff(%i) = %p', (rows, expected) => {
    expect(oomBackoff(rows)).toBe(expected);
  });
});

describe('out-of-memory errors, recognised in one place', () => {
  test.each([
    ['CPU allocator', '[ONNXRuntimeError] : 6 : RUNTIME_EXCEPTION : Non-zero status code returned while running MatMul node. Name:\'m\' Status Message: Failed to allocate memory for requested buffer of size 4294967296', true],
    ['CUDA BFC arena', 'Non-zero status code returned while running Gemm node. Status Message: /onnxruntime_src/onnxruntime/core/framework/bfc_arena.cc:376 void* onnxruntime::BFCArena::AllocateRawInternal(size_t, bool, onnxruntime::Stream*, bool, onnxruntime::WaitNotificationFn) Failed to allocate memory for requested buffer of size 8589934592', true],
    ['cuBLAS', 'CUBLAS failure 3: CUBLAS_STATUS_ALLOC_FAILED ; GPU=0 ; hostname=n1 ; file=cublas_handle.cc', true],
    ['cuDNN', 'CUDNN failure 2: CUDNN_STATUS_ALLOC_FAILED ; GPU=0', true],
    ['CUDA runtime', 'CUDA failure 2: out of memory ; GPU=0 ; hostname=n1', true],
    ['CUDA runtime, by name', 'cudaErrorMemoryAllocation', true],
    ['C++ allocation', 'std::bad_alloc', true],
    ['a shape error', 'Got invalid dimensions for input: X for the following indices index: 1 Got: 3 Expected: 4', false],
    ['a missing provider', 'Failed to load library libonnxruntime_providers_cuda.so', false],
    ['a memory-unrelated word', 'the memory map of the model is corrupt', false],
  ])('%s', (_name, message, expected) => {
    expect(isOutOfMemory(new Error(message))).toBe(expected);
    expect(isOutOfMemory({ message })).toBe(expected); // an error from another realm
    expect(retrySmallerOnOom(64, new Error(message))).toBe(expected ? 32 : undefined);
  });
});

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ThreadData } from './thread-protocol.js';

/**
 * parquet-wasm's ESM build and its wasm module, compiled once per process and handed to every thread.
 * Threads given the same WebAssembly.Module share its machine code, including the optimized code V8
 * tiers hot functions up to. A thread that compiled its own copy would spend about 0.3 CPU-seconds
 * compiling, and decode at half speed until the hot functions were optimized again, which on a
 * 1M-row shard is a third of the decoder's work.
 */
let wasm: ThreadData | undefined;
export function sharedParquetWasm(): ThreadData {
  if (!wasm) {
    const nodeEntry = createRequire(import.meta.url).resolve('parquet-wasm'); // .../parquet-wasm/node/parquet_wasm.js
    const esmDir = join(dirname(dirname(nodeEntry)), 'esm');
    wasm = {
      esmUrl: pathToFileURL(join(esmDir, 'parquet_wasm.js')).href,
      module: new WebAssembly.Module(readFileSync(join(esmDir, 'parquet_wasm_bg.wasm'))),
    };
  }
  return wasm;
}

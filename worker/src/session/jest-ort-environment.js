/**
 * A Jest environment for tests that run onnxruntime-node.
 *
 * Jest runs each test file in its own vm context, with its own Float32Array, ArrayBuffer, ...
 * onnxruntime-node's native binding creates output arrays in the main context, and
 * onnxruntime-common (loaded inside the test's context) then rejects them:
 * "A float32 tensor's data must be type of function Float32Array()" (microsoft/onnxruntime#16622).
 * This environment gives the test context the main context's binary-data constructors, so arrays
 * from native code and from test code are the same kind.
 *
 * Use it with a docblock at the top of a test file:  @jest-environment ./worker/src/session/jest-ort-environment.js
 * (the path is relative to the Jest rootDir), or as `testEnvironment` in jest.config.js.
 */
import { TestEnvironment } from 'jest-environment-node';

const SHARED = [
  'ArrayBuffer', 'SharedArrayBuffer', 'DataView',
  'Int8Array', 'Uint8Array', 'Uint8ClampedArray', 'Int16Array', 'Uint16Array', 'Int32Array', 'Uint32Array',
  'Float32Array', 'Float64Array', 'BigInt64Array', 'BigUint64Array', 'Float16Array',
];

export default class OrtEnvironment extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    for (const name of SHARED) {
      if (name in globalThis) this.global[name] = globalThis[name];
    }
  }
}

/** The onnxruntime session: execution-provider choice, model metadata, batch sizing. */
export * from './session.js';
export * from './threads.js';
export { InferenceThread, InferenceThreadError } from './inference-thread.js';

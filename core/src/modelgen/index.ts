/** ONNX models encoded from code: a protobuf writer, ONNX proto builders and ready-made models. */
export { ProtoWriter } from './protobuf.js';
export * from './onnx.js';
export * from './models.js';

import * as k8s from '@kubernetes/client-node';
import * as pw from 'parquet-wasm';
import { tableFromArrays } from 'apache-arrow';
import ort from 'onnxruntime-node';
import { z } from 'zod';
test('deps load', () => {
  expect(typeof k8s.KubeConfig).toBe('function');
  expect(typeof pw.ParquetFile).toBe('function');
  expect(tableFromArrays({ a: new Float32Array([1]) }).numRows).toBe(1);
  expect(typeof ort.InferenceSession.create).toBe('function');
  expect(z.string().parse('x')).toBe('x');
});

"""GPU device check, step (c): the anchor. The same Parquet, scored by the same MLP (same weights) the
way a Ray Data user writes a batch-inference pipeline in Python: read record batches with pyarrow, turn
each into a tensor, run the PyTorch model, write id + score to Parquet; a reader thread fills a bounded
queue so that reading overlaps the model. Only Python in the project: the device check's yardstick.

    python3 anchor.py --data DIR --weights DIR/models/NAME.weights.json --out DIR
        [--device cuda] [--dtype float32|float16] [--batch 8192] [--rounds 3] [--json FILE]

Each round is timed from the model's construction (weights to the device) to the closed output file,
as the worker's end to end is timed from its session's creation to its last part. A warm-up round runs
first (CUDA context, cuBLAS handles, kernel selection) and is not counted; the figure is the median of
the counted rounds. float32 matrix products use TF32, as ONNX Runtime's CUDA provider does by default
(its use_tf32 option); --tf32 off turns it off.

Dry run only (BIJ_DEVICE_DRY=1, on a machine without PyTorch): the same pipeline with the model's
arithmetic in numpy, and a line that says so. Never a figure to report.
"""
import argparse
import contextlib
import glob
import json
import os
import queue
import statistics
import threading
import time

import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

try:
    import torch
except ImportError:
    if os.environ.get("BIJ_DEVICE_DRY") != "1":
        raise
    torch = None


def read_weights(weights_json):
    meta = json.load(open(weights_json))
    sizes = meta["sizes"]
    flat = np.fromfile(os.path.join(os.path.dirname(weights_json), meta["file"]), dtype="<f4")
    out, at = [], 0
    for i in range(len(sizes) - 1):
        fan_in, fan_out = sizes[i], sizes[i + 1]
        w = flat[at:at + fan_in * fan_out].reshape(fan_in, fan_out)
        at += fan_in * fan_out
        b = flat[at:at + fan_out]
        at += fan_out
        out.append((w, b))
    if at != flat.size:
        raise SystemExit(f"{weights_json}: {flat.size} floats, the sizes need {at}")
    return out, meta.get("softmax", False)


class NumpyMlp:
    """Dry run without PyTorch: the same arithmetic in numpy (float32 or float16)."""

    def __init__(self, weights_json, dtype):
        self.layers, self.softmax = read_weights(weights_json)
        self.dtype = dtype
        self.layers = [(w.astype(dtype), b.astype(dtype)) for w, b in self.layers]

    def __call__(self, x):
        h = x.astype(self.dtype)
        for i, (w, b) in enumerate(self.layers):
            h = h @ w + b
            if i + 1 < len(self.layers):
                h = np.maximum(h, 0)
        if self.softmax:
            h = np.exp(h - h.max(axis=-1, keepdims=True))
            h = h / h.sum(axis=-1, keepdims=True)
        return h


def load_mlp(weights_json, dtype, device):
    if torch is None:
        return NumpyMlp(weights_json, np.float16 if dtype == "float16" else np.float32), None
    weights, softmax = read_weights(weights_json)
    dtype = torch.float16 if dtype == "float16" else torch.float32
    layers = []
    for i, (w, b) in enumerate(weights):
        fan_in, fan_out = w.shape
        lin = torch.nn.Linear(fan_in, fan_out)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(w.T.copy()))
            lin.bias.copy_(torch.from_numpy(b.copy()))
        layers.append(lin)
        if i + 1 < len(weights):
            layers.append(torch.nn.ReLU())
    if softmax:
        layers.append(torch.nn.Softmax(dim=-1))
    return torch.nn.Sequential(*layers).to(device=device, dtype=dtype).eval(), dtype


def score_batch(model, dtype, x, device):
    """One batch through the model; returns the class-1 probabilities as float32 on the host."""
    if torch is None:
        return model(x)[:, 1].astype(np.float32)
    probs = model(torch.from_numpy(x).to(device).to(dtype))
    return probs[:, 1].float().cpu().numpy()  # .cpu() waits for the GPU


def run_once(args, files, features, dtype, out_path):
    t0 = time.perf_counter()
    model, tdtype = load_mlp(args.weights, dtype, args.device)
    batches = queue.Queue(maxsize=4)

    def reader():
        try:
            dataset = ds.dataset(files, format="parquet")
            for rb in dataset.to_batches(columns=["id"] + features, batch_size=args.batch, use_threads=True):
                batches.put(rb)
        finally:
            batches.put(None)

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    schema = pa.schema([("id", pa.int64()), ("score", pa.float32())])
    writer = pq.ParquetWriter(out_path, schema, compression="zstd")
    rows, model_s = 0, 0.0
    with torch.inference_mode() if torch is not None else contextlib.nullcontext():
        while (rb := batches.get()) is not None:
            x = np.stack([rb.column(c).to_numpy() for c in features], axis=1)
            m0 = time.perf_counter()
            score = score_batch(model, tdtype, x, args.device)
            model_s += time.perf_counter() - m0
            writer.write_batch(pa.record_batch([rb.column("id"), pa.array(score, type=pa.float32())], schema=schema))
            rows += rb.num_rows
    writer.close()
    thread.join()
    return rows, time.perf_counter() - t0, model_s


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", required=True)
    p.add_argument("--weights", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--device", default="cuda")
    p.add_argument("--dtype", default="float32", choices=["float32", "float16"])
    p.add_argument("--batch", type=int, default=8192)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--tf32", default="on", choices=["on", "off"])
    p.add_argument("--label", default="")
    p.add_argument("--json")
    args = p.parse_args()
    if torch is None:
        print("no PyTorch here (dry run): the anchor's model runs in numpy; its figures are not the anchor's")
        args.device = "cpu"
    else:
        torch.backends.cuda.matmul.allow_tf32 = args.tf32 == "on"
        torch.backends.cudnn.allow_tf32 = args.tf32 == "on"
    meta = json.load(open(os.path.join(args.data, "meta.json")))
    features = [f"f{j}" for j in range(meta["features"])]
    files = sorted(glob.glob(os.path.join(args.data, "*.parquet")))
    dtype = args.dtype
    os.makedirs(args.out, exist_ok=True)
    runs = []
    for r in range(args.rounds + 1):
        rows, seconds, model_s = run_once(args, files, features, dtype, os.path.join(args.out, f"anchor-{r}.parquet"))
        if rows != meta["rows"]:
            raise SystemExit(f"anchor read {rows} rows, expected {meta['rows']}")
        if r > 0:
            runs.append((seconds, model_s))
    seconds = statistics.median(s for s, _ in runs)
    busy = statistics.median(m / s for s, m in runs)
    rate = meta["rows"] / seconds
    name = torch.cuda.get_device_name() if args.device == "cuda" else "cpu"
    engine = f"PyTorch {torch.__version__}" if torch is not None else "numpy (dry run, no PyTorch)"
    print(f"anchor {args.label}: {engine} on {name}, {args.dtype}, tf32 {args.tf32}: "
          f"end to end {rate:,.0f} rows/s ({seconds:.2f} s, median of {args.rounds} after a warm-up), model busy {100 * busy:.0f}%")
    if args.json:
        json.dump({"rowsPerSecond": rate, "seconds": seconds, "modelBusy": busy, "device": name, "dtype": args.dtype,
                   "engine": engine, "pyarrow": pa.__version__, "tf32": args.tf32}, open(args.json, "w"))


if __name__ == "__main__":
    main()

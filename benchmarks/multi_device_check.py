"""Encoding on several devices equals encoding on one: the same passages encoded in-process
on one device and by one worker process per listed device (cuda:0 cuda:1 ...; on a one-GPU
machine cuda:0 cuda:0 runs the same code path; cpu cpu on a CPU).

    python benchmarks/multi_device_check.py --devices cuda:0 cuda:0 --passages 20000

Prints whether the vectors are bitwise equal, the largest absolute difference and both
timings; exits 1 when they differ by more than 1e-6. Writes
benchmarks/results/multi_device_<device>_<date>.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from encode_throughput import build_checkpoint, default_tokenizer_dir, device_name, synthetic_passages, write_result

from bge_eval.encoding.text_embedder import TextEmbedder
from bge_eval.models import resolve_model


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--devices", nargs="+", required=True)
    parser.add_argument("--size", default="base", choices=["small", "base", "large"])
    parser.add_argument("--passages", type=int, default=2000)
    parser.add_argument("--tokenizer", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        checkpoint = build_checkpoint(args.size, Path(tmp) / args.size, args.tokenizer or default_tokenizer_dir())
        spec = resolve_model(f"BAAI/bge-{args.size}-en-v1.5", model_path=checkpoint).spec
        batch = 1024 if args.devices[0].startswith("cuda") else 32
        one = TextEmbedder(checkpoint, spec, device=args.devices[0], batch_size=batch)
        texts = synthetic_passages(args.passages, one.tokenizer)
        one.embed(texts[:256])
        start = time.perf_counter()
        single = one.embed(texts)
        single_s = time.perf_counter() - start
        sharded_embedder = TextEmbedder(checkpoint, spec, devices=args.devices, batch_size=batch)
        try:
            sharded_embedder.embed(texts[:256])
            start = time.perf_counter()
            sharded = sharded_embedder.embed(texts)
            sharded_s = time.perf_counter() - start
        finally:
            sharded_embedder.close()
    difference = float(np.max(np.abs(sharded - single)))
    row = {"devices": args.devices, "model_shape": f"bge-{args.size}", "passages": args.passages,
           "precision": str(one.dtype).replace("torch.", ""), "bitwise_equal": bool(np.array_equal(sharded, single)),
           "max_abs_difference": difference, "one_device_s": round(single_s, 3), "sharded_s": round(sharded_s, 3)}
    print(json.dumps(row))
    write_result("multi_device_check", device_name(torch.device(args.devices[0])), [row], "multi_device")
    return 0 if difference <= 1e-6 else 1


if __name__ == "__main__":
    sys.exit(main())

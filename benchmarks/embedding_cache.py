"""The per-text embedding cache at scale: writing N rows as the runner does (one shard per
encode call, 50,000 rows each as mteb's corpus chunks give them), then, in a fresh process as a
later run would, opening the cache, a first lookup (which verifies the checksums of every
shard it touches), the same lookup again (verified), and a lookup of every row.

    python benchmarks/embedding_cache.py --rows 1000000 --width 768

Prints and writes benchmarks/results/embedding_cache_<device>_<date>.json: seconds and rows/s of
each step, the cache's size on disk, and that every row read back equals the row written.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bge_eval.encoding.cache_upkeep import cache_report  # noqa: E402
from bge_eval.encoding.embedding_cache import EmbeddingCache, text_key  # noqa: E402

IDENTITY = {"model": "benchmark", "revision": "r", "checkpoint": "c", "dtype": "torch.float16",
            "pooling": "cls", "max_length": "512"}


def rows_of(start: int, stop: int, width: int) -> np.ndarray:
    """Row i is a deterministic function of i, so a read-back can be checked without keeping it."""
    index = np.arange(start, stop, dtype=np.float32)[:, None]
    return np.sin(index * 0.001 + np.arange(width, dtype=np.float32)[None, :] * 0.01)


def keys_of(indices) -> list[bytes]:
    return [text_key(f"passage number {i}") for i in indices]


def write(folder: Path, rows: int, width: int, shard_rows: int) -> dict:
    space = EmbeddingCache(folder).space(IDENTITY, width)
    started = time.perf_counter()
    for start in range(0, rows, shard_rows):
        stop = min(rows, start + shard_rows)
        space.add(keys_of(range(start, stop)), rows_of(start, stop, width))
    seconds = time.perf_counter() - started
    return {"write_s": round(seconds, 3), "write_rows_per_s": round(rows / seconds)}


def read(folder: Path, rows: int, width: int, sample: int) -> dict:
    """In a fresh process: what a later run pays to serve rows from the cache."""
    rng = np.random.default_rng(0)
    wanted = np.sort(rng.choice(rows, size=min(sample, rows), replace=False))
    wanted_keys = keys_of(wanted)
    started = time.perf_counter()
    space = EmbeddingCache(folder).space(IDENTITY, width)
    space.refresh()
    opened = time.perf_counter() - started
    out = {"open_s": round(opened, 3), "shards": len(space.shards)}
    for step in ("first_lookup", "second_lookup"):
        started = time.perf_counter()
        found, vectors = space.lookup(wanted_keys)
        seconds = time.perf_counter() - started
        assert len(found) == len(wanted), f"{step}: {len(found)} of {len(wanted)} rows found"
        np.testing.assert_array_equal(vectors, np.concatenate([rows_of(i, i + 1, width) for i in wanted]))
        out[f"{step}_s"], out[f"{step}_rows_per_s"] = round(seconds, 3), round(len(wanted) / seconds)
    all_keys = keys_of(range(rows))
    started = time.perf_counter()
    found, vectors = space.lookup(all_keys)
    seconds = time.perf_counter() - started
    assert len(found) == rows
    step = max(1, rows // 1000)  # every thousandth row checked in full
    checked = range(0, rows, step)
    np.testing.assert_array_equal(vectors[::step], np.concatenate([rows_of(i, i + 1, width) for i in checked]))
    out["every_row_s"], out["every_row_rows_per_s"] = round(seconds, 3), round(rows / seconds)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--width", type=int, default=768)
    parser.add_argument("--shard-rows", type=int, default=50_000)
    parser.add_argument("--sample", type=int, default=100_000, help="rows looked up at random")
    parser.add_argument("--folder", type=Path, help="where the cache is built (default: a temporary folder)")
    parser.add_argument("--read", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args()
    if args.read:
        print(json.dumps(read(args.folder, args.rows, args.width, args.sample)))
        return
    with tempfile.TemporaryDirectory(dir=args.folder) as tmp:
        folder = Path(tmp) / "cache"
        summary = {"benchmark": "embedding_cache", "device": f"cpu-{os.cpu_count()}cores-{platform.machine()}",
                   "date": date.today().isoformat(), "rows": args.rows, "width": args.width,
                   "shard_rows": args.shard_rows, "sample": args.sample}
        summary.update(write(folder, args.rows, args.width, args.shard_rows))
        (space,) = cache_report(folder)
        summary["bytes_on_disk"] = space.bytes
        done = subprocess.run([sys.executable, __file__, "--read", "--folder", str(folder), "--rows", str(args.rows),
                               "--width", str(args.width), "--sample", str(args.sample)],
                              capture_output=True, text=True, check=True)
        summary.update(json.loads(done.stdout.strip().splitlines()[-1]))
    print(json.dumps(summary, indent=2))
    args.results.mkdir(parents=True, exist_ok=True)
    path = args.results / f"embedding_cache_{summary['device']}_{summary['date']}.json"
    path.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    print(f"written: {path}")


if __name__ == "__main__":
    main()

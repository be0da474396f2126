"""The encoding pipeline's host settings, swept in one run: how many tokenizer processes
(BGE_EVAL_TOKENIZER_PROCESSES), each one's Rust threads (BGE_EVAL_TOKENIZER_THREADS), the chunk
sizes and how many chunks the tokenizers may run ahead of the model, on a random BGE-shaped
model and the encode benchmark's synthetic passages, with sentence-transformers' encode before
and after as the yardstick. For each setting: the harness's real tokens/s (best of --repeats),
the tokenizer processes' rate alone, and the ratio over sentence-transformers (best of its two runs).

    python benchmarks/pipeline_sweep.py --size base --passages 20000      # GPU
    python benchmarks/pipeline_sweep.py --best results/pipeline_sweep_<device>_<date>.json
        # prints the fastest setting's processes and threads as shell assignments

Writes benchmarks/results/pipeline_sweep_<device>_<date>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import torch
from encode_throughput import (
    SHAPES,
    build_checkpoint,
    default_tokenizer_dir,
    device_name,
    sentence_transformer,
    synthetic_passages,
    timed,
    write_result,
)


def settings(cores: int) -> list[dict[str, int]]:
    """The shipped default, the former default (3 chunks ahead), a smaller first chunk, larger
    chunks, and two or three processes (threads as rust_threads gives them, and one more each)."""
    def setting(processes: int, extra_threads: int = 0, chunk: int = 512, ahead: int = 32, first: int = 128):
        threads = max(1, (cores - 1) // processes - 1) + extra_threads
        return {"processes": processes, "rust_threads": threads, "chunk_texts": chunk, "chunks_ahead": ahead,
                "first_chunk_texts": first}

    return [setting(1), setting(1, ahead=3), setting(1, first=32), setting(1, chunk=1024, ahead=16),
            setting(2), setting(2, extra_threads=1), setting(2, extra_threads=1, chunk=1024, ahead=16), setting(3)]


def measure(size: str, n: int, device: torch.device, repeats: int, tokenizer_dir: Path) -> list[dict]:
    """One row per setting, written after each (a run stopped by its limit keeps the settings it finished)."""
    from transformers import AutoTokenizer

    from bge_eval.encoding.settings import PipelineSettings
    from bge_eval.encoding.text_embedder import TextEmbedder
    from bge_eval.models import resolve_model

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        checkpoint = build_checkpoint(size, Path(tmp) / size, tokenizer_dir)
        spec = resolve_model(f"BAAI/bge-{size}-en-v1.5", model_path=checkpoint).spec
        texts = synthetic_passages(n, AutoTokenizer.from_pretrained(str(checkpoint)))
        dtype = torch.float16 if device.type == "cuda" else torch.float32  # the harness's "auto"
        st = sentence_transformer(checkpoint, size, device, dtype)
        st.encode(texts, batch_size=256)  # a first full run is slower (measured 12.5 s, then 8.4 s)
        st_times = [timed(lambda: st.encode(texts, batch_size=256), device)[0]]
        for setting in settings(os.cpu_count() or 2):
            pipeline = PipelineSettings(tokenizer_processes=setting["processes"],
                                        tokenizer_threads=setting["rust_threads"], chunk_texts=setting["chunk_texts"],
                                        chunks_ahead=setting["chunks_ahead"],
                                        first_chunk_texts=setting["first_chunk_texts"])
            started = time.perf_counter()
            encoder = TextEmbedder(checkpoint, spec, device=str(device), pipeline=pipeline)
            real_tokens = sum(len(ids) for ids in encoder.token_ids(texts))
            encoder.embed(texts[:2048])  # the model settles, the tokenizer process starts
            harness_times = [timed(lambda e=encoder: e.embed(texts), device)[0] for _ in range(repeats)]
            harness_s = min(harness_times)
            process = encoder.tokenizer_process
            process_s = None if process is None else timed(lambda p=process: list(p.planned_chunks(texts)), device)[0]
            encoder.close()
            rows.append({**setting, "harness_s": round(harness_s, 3),
                         "harness_tokens_per_s": round(real_tokens / harness_s),
                         "tokenizer_process_tokens_per_s": process_s and round(real_tokens / process_s),
                         "all_harness_s": [round(t, 3) for t in harness_times],
                         "measure_s": round(time.perf_counter() - started, 1)})
            print(json.dumps(rows[-1]), flush=True)
            with_yardstick(rows, st_times, real_tokens, size, n, device)
        st_times.append(timed(lambda: st.encode(texts, batch_size=256), device)[0])
        return with_yardstick(rows, st_times, real_tokens, size, n, device)


def with_yardstick(rows: list[dict], st_times: list[float], real_tokens: int, size: str, n: int,
                   device: torch.device) -> list[dict]:
    """The rows with sentence-transformers' best time so far, written to the result file."""
    st_s = min(st_times)
    for row in rows:
        row |= {"st_tokens_per_s": round(real_tokens / st_s),
                "ratio_harness_over_st": round(st_s / row["harness_s"], 3),
                "model_shape": f"bge-{size}", "passages": n, "real_tokens": real_tokens,
                "all_st_s": [round(t, 3) for t in st_times]}
    write_result("pipeline_sweep", device_name(device), rows, "pipeline_sweep")
    return rows


def best_processes_and_threads(path: Path) -> str:
    """The fastest setting's processes and threads, as shell assignments."""
    from bge_eval.encoding.settings import PROCESSES_VARIABLE, THREADS_VARIABLE

    best = max(json.loads(path.read_text())["rows"], key=lambda row: row["harness_tokens_per_s"])
    return f"{PROCESSES_VARIABLE}={best.get('processes', 1)} {THREADS_VARIABLE}={best['rust_threads']}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="base", choices=list(SHAPES))
    parser.add_argument("--passages", type=int, default=None, help="default 20000 on GPU, 600 on CPU")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--tokenizer", type=Path, default=None)
    parser.add_argument("--best", type=Path, default=None, help="print a result's fastest processes and threads")
    args = parser.parse_args()
    if args.best:
        print(best_processes_and_threads(args.best))
        return
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    n = args.passages or (20000 if device.type == "cuda" else 600)
    measure(args.size, n, device, args.repeats, args.tokenizer or default_tokenizer_dir())


if __name__ == "__main__":
    main()

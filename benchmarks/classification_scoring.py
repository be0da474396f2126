"""mteb's scoring of Banking77 (the local copy in ../shared/data) with a weightless trigram encoder,
plain against inside `_mteb.eager_columns` (the task's own splits hand out columns read once), in
the same process, alternating; the scores must be equal.

    python benchmarks/classification_scoring.py [--repeats 3] [--data-dir ../shared/data]

Writes benchmarks/results/classification_scoring_<device>_<date>.json.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import platform
import statistics
import sys
import time
from datetime import date
from pathlib import Path

import mteb

from bge_eval import _mteb
from bge_eval.tasks.local_data import attach_local_data

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root, for tests.helpers
from tests.helpers import TrigramEncoder  # noqa: E402  (the contract test's encoder)

TASK = "Banking77Classification"


def scored(data_dir: Path, eager: bool) -> tuple[float, dict]:
    task = mteb.get_task(TASK)
    attach_local_data(task, data_dir)
    started = time.perf_counter()
    with _mteb.eager_columns(task) if eager else contextlib.nullcontext():
        result = mteb.evaluate(TrigramEncoder(), [task], cache=None, co2_tracker=False, show_progress_bar=False)
    return time.perf_counter() - started, result.task_results[0].scores["test"][0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--data-dir", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    args = parser.parse_args()
    times: dict[str, list[float]] = {"plain": [], "eager_columns": []}
    scores = {}
    for _ in range(args.repeats):
        for name in times:
            seconds, scores[name] = scored(args.data_dir, name == "eager_columns")
            times[name].append(round(seconds, 3))
    medians = {name: statistics.median(values) for name, values in times.items()}
    out = {"task": TASK, "encoder": "hashed character trigrams (64 dims)", "machine": platform.machine(),
           "seconds": times, "median_s": medians, "ratio_eager_to_plain": round(medians["eager_columns"] /
                                                                               medians["plain"], 3),
           "same_scores": scores["plain"] == scores["eager_columns"], "accuracy": scores["plain"]["accuracy"]}
    path = Path(__file__).parent / "results" / f"classification_scoring_cpu-{platform.machine()}_{date.today()}.json"
    path.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()

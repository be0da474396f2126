"""How much half precision moves the published numbers: every task with local data, scored by
the harness in the recipe's fp32 and in the default GPU precision (fp16), same model, same data,
same run; the difference of the benchmark's main score per task (low - fp32).

    python benchmarks/precision_gap.py                        # a GPU: every task of ../shared/data
    SMOKE=1 python benchmarks/precision_gap.py                # CPU check of the script: two small tasks

--model defaults to all-MiniLM-L6-v2 (real weights; no BGE weights exist offline, and random
weights would make the gap meaningless); --model-path a BGE checkpoint where one exists.
Writes benchmarks/results/precision_gap_<device>_<date>.json (or $OUT/ when set).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from datetime import date
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

REPO = Path(__file__).resolve().parent.parent
SMOKE_TASKS = ("STSBenchmark", "BgeEvalDemoSTS")


def local_tasks(data_dir: Path) -> list[str]:
    return sorted(p.name for p in data_dir.iterdir() if p.is_dir())


def main() -> None:
    import torch

    import bge_eval

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="sentence-transformers/all-MiniLM-L6-v2")
    parser.add_argument("--model-path", type=Path)
    parser.add_argument("--data-dir", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--tasks", nargs="+", help="default: every task folder of --data-dir")
    parser.add_argument("--low", default="fp16", choices=("fp16", "bf16"))
    args = parser.parse_args()
    smoke = os.environ.get("SMOKE") == "1"
    tasks = list(args.tasks or (SMOKE_TASKS if smoke else local_tasks(args.data_dir)))
    device = "cuda" if torch.cuda.is_available() else "cpu"
    name = torch.cuda.get_device_name(0).replace(" ", "_") if device == "cuda" else f"cpu-{os.cpu_count()}cores"

    scores: dict[str, dict[str, float]] = {}
    seconds: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as scratch:
        for precision in ("fp32", args.low):
            start = time.perf_counter()
            summary = bge_eval.evaluate(args.model, tasks, model_path=args.model_path, data_dir=args.data_dir,
                                        output=Path(scratch) / precision, device=device, precision=precision,
                                        embedding_cache=None, save_predictions=False)
            seconds[precision] = round(time.perf_counter() - start, 1)
            for outcome in summary.outcomes:
                for split, score in outcome.main_scores.items():
                    scores.setdefault(f"{outcome.name} {split}", {})[precision] = score
    rows = [{"task": key, "metric_fp32": value["fp32"], f"metric_{args.low}": value[args.low],
             "delta": value[args.low] - value["fp32"]} for key, value in scores.items() if len(value) == 2]
    for row in rows:
        print(f"{row['task']:40s} fp32 {row['metric_fp32']:.5f}  {args.low} {row[f'metric_{args.low}']:.5f}  "
              f"delta {row['delta']:+.5f}")
    largest = max((abs(r["delta"]) for r in rows), default=0.0)
    print(f"largest |delta|: {largest:.5f} over {len(rows)} task splits; wall s {seconds}")
    out_dir = Path(os.environ.get("OUT") or REPO / "benchmarks" / "results")
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / f"precision_gap_{name}_{date.today()}{'_smoke' if smoke else ''}.json"
    out.write_text(json.dumps({"device": name, "model": args.model, "low": args.low, "smoke": smoke, "rows": rows,
                               "largest_abs_delta": largest, "wall_s": seconds,
                               "versions": {"bge_eval": bge_eval.__version__, "torch": torch.__version__}},
                              indent=2), encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()

